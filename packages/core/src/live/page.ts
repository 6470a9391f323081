/**
 * The live page: the run's report.html exactly as `taylorlens report` builds it, plus one small
 * script (served from the same origin) that swaps in re-rendered figures pushed by server-sent
 * events. Still nothing from the network: the policy allows scripts and connections to this
 * server only.
 */
const LIVE_CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; script-src 'self'; connect-src 'self'; base-uri 'none'; form-action 'none'";

export const PAGE_START = '<div class="page">';
const PAGE_END = '</div>\n</body>';

function replaceOnce(html: string, pattern: string | RegExp, by: string, what: string): string {
  const found = typeof pattern === 'string' ? html.includes(pattern) : pattern.test(html);
  // The report's layout is this module's contract with report/html.ts: fail loudly if it moves.
  if (!found) throw new Error(`live view: the report page has no ${what} to change`);
  return html.replace(pattern, by);
}

/** What the page swaps in on an update: everything inside `<div class="page">`. */
export function pageContent(reportHtml: string): string {
  const start = reportHtml.indexOf(PAGE_START);
  const end = reportHtml.lastIndexOf(PAGE_END);
  if (start < 0 || end < start) throw new Error('live view: the report page has no <div class="page"> to update');
  return reportHtml.slice(start + PAGE_START.length, end);
}

const STATUS_CSS = '#taylorlens-live{position:sticky;top:0;z-index:10;margin:0;padding:4px 12px;font:13px system-ui,sans-serif;'
  + 'background:#e8f3ea;color:#1d4d2b;border-bottom:1px solid #b9d8c1}#taylorlens-live.warn{background:#fff4e0;color:#6b4300;border-color:#e8cf9c}';

/** The report turned live: its own CSP swapped for one that allows /live.js and /events, a status line, the script. */
export function livePage(reportHtml: string, version: number, runDir: string): string {
  let html = replaceOnce(reportHtml, /<meta http-equiv="Content-Security-Policy" content="[^"]*">/, `<meta http-equiv="Content-Security-Policy" content="${LIVE_CSP}">`, 'content security policy');
  html = replaceOnce(html, '<html lang="en">', `<html lang="en" data-live-version="${version}">`, '<html> element');
  html = replaceOnce(html, '</head>', `<style>${STATUS_CSS}</style>\n<script src="/live.js" defer></script>\n</head>`, '</head>');
  html = replaceOnce(html, '<body>\n', '<body>\n<p id="taylorlens-live" role="status">live view · connecting…</p>\n', '<body>');
  html = replaceOnce(html, /<footer>[^<]*<\/footer>/, `<footer>Live view of ${escapeText(runDir)}, served by taylorlens: it updates as the run folder changes.</footer>`, 'footer');
  return html;
}

function escapeText(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

/** Runs in the browser: apply each newer version, say when it came, stop when the server says it is done. */
export const LIVE_SCRIPT = `(() => {
  const status = document.getElementById('taylorlens-live');
  const page = document.querySelector('.page');
  let version = Number(document.documentElement.dataset.liveVersion || 0);
  const show = (text, warn) => { status.textContent = 'live view · ' + text; status.className = warn ? 'warn' : ''; };
  const events = new EventSource('/events');
  events.addEventListener('report', (e) => {
    const d = JSON.parse(e.data);
    if (d.version <= version) return show('up to date (' + d.status + ')');
    version = d.version;
    page.innerHTML = d.page;
    document.documentElement.dataset.liveVersion = String(version);
    show('updated ' + new Date().toLocaleTimeString() + ' (' + d.status + ')');
  });
  events.addEventListener('problem', (e) => show(JSON.parse(e.data).message, true));
  events.addEventListener('end', (e) => {
    events.close();
    show(JSON.parse(e.data).message, true);
  });
  events.onerror = () => show('connection lost, retrying (is taylorlens still serving?)', true);
})();
`;
