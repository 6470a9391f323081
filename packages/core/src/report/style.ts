/** The report's only stylesheet: inline, system fonts, prints cleanly. */
export const REPORT_CSS = `
:root {
  --ink: #1f2328; --muted: #57606a; --line: #d0d7de; --soft: #f6f8fa; --accent: #0072B2;
  font-family: system-ui, -apple-system, "Segoe UI", Helvetica, Arial, "DejaVu Sans", sans-serif;
  color: var(--ink); background: #fff; line-height: 1.55; font-size: 15px;
}
* { box-sizing: border-box; }
body { margin: 0; }
.page { max-width: 1160px; margin: 0 auto; padding: 36px 28px 56px; }
header h1 { font-size: 28px; line-height: 1.2; margin: 0 0 4px; letter-spacing: -0.01em; }
header .subtitle { margin: 0 0 18px; color: var(--muted); font-size: 16px; }
dl.meta { display: flex; flex-wrap: wrap; gap: 10px 32px; margin: 0 0 22px; padding: 12px 16px;
  background: var(--soft); border: 1px solid var(--line); border-radius: 8px; }
dl.meta div { min-width: 0; max-width: 100%; }
dl.meta dt { font-size: 11px; text-transform: uppercase; letter-spacing: 0.05em; color: var(--muted); }
dl.meta dd { margin: 0; font-variant-numeric: tabular-nums; font-weight: 500; overflow-wrap: anywhere; }
nav.toc { margin: 0 0 8px; }
nav.toc h2 { font-size: 12px; text-transform: uppercase; letter-spacing: 0.06em; color: var(--muted); margin: 0 0 6px; font-weight: 600; }
nav.toc ol { list-style: none; margin: 0; padding: 0; display: flex; flex-wrap: wrap; gap: 6px 8px; counter-reset: toc; }
nav.toc li { counter-increment: toc; }
nav.toc a { display: inline-block; padding: 3px 12px; border: 1px solid var(--line); border-radius: 999px;
  color: var(--ink); text-decoration: none; font-size: 14px; }
nav.toc a::before { content: counter(toc) ". "; color: var(--muted); }
nav.toc a:hover { border-color: var(--accent); color: var(--accent); }
section { border-top: 1px solid var(--line); margin-top: 32px; padding-top: 20px; }
section h2 { font-size: 21px; margin: 0 0 6px; }
section h2 .num { color: var(--muted); font-weight: 400; margin-right: 6px; }
section .intro { color: var(--muted); max-width: 75ch; margin: 0 0 8px; }
.figures { display: grid; grid-template-columns: repeat(auto-fill, minmax(min(100%, 480px), 1fr)); gap: 18px; margin-top: 14px; }
figure { margin: 0; border: 1px solid var(--line); border-radius: 10px; padding: 10px 12px 12px; background: #fff;
  break-inside: avoid; display: flex; flex-direction: column; }
/* Natural size (never scaled up) so text is the same size in every chart; shrinks on narrow screens. */
figure svg { display: block; max-width: 100%; height: auto; margin: 0 auto; }
figcaption { font-size: 13.5px; color: var(--muted); margin-top: 6px; padding: 0 4px; }
figure.failed { border-color: #cf222e; background: #fff5f5; color: #82071e; font-size: 14px; }
.tables { margin-top: 18px; display: grid; gap: 18px; }
.table-wrap { overflow-x: auto; }
table.data { border-collapse: collapse; font-size: 14px; font-variant-numeric: tabular-nums; min-width: 50%; }
table.data caption { text-align: left; color: var(--muted); font-size: 13.5px; padding-bottom: 6px; caption-side: top; }
table.data th, table.data td { padding: 5px 12px; border-bottom: 1px solid var(--line); text-align: left; white-space: nowrap; }
table.data th { font-weight: 600; border-bottom: 2px solid var(--ink); }
table.data tbody tr:nth-child(even) { background: var(--soft); }
table.data .right { text-align: right; }
table.data .center { text-align: center; }
ul.notes { margin: 14px 0 0; padding-left: 20px; color: var(--muted); font-size: 14px; max-width: 80ch; }
div.flags { margin: 10px 0 14px; padding: 8px 14px; border: 2px solid #b42318; background: #fef3f2; color: #7a271a; font-size: 14px; max-width: 80ch; }
div.flags ul { margin: 4px 0 0; padding-left: 20px; }
footer { margin-top: 44px; padding-top: 12px; border-top: 1px solid var(--line); color: var(--muted); font-size: 12.5px; }
@media print {
  .page { padding: 0; max-width: none; }
  nav.toc { display: none; }
  section { break-before: auto; }
}
`;
