import { escapeHtml, formatValue } from './format.js';

export interface TableColumn {
  /** Key of the value in each row. */
  key: string;
  /** Header text; defaults to `key`. */
  title?: string;
  /** Alignment; numbers default to right so digits line up. */
  align?: 'left' | 'right' | 'center';
}

export interface TableSpec {
  columns: readonly (TableColumn | string)[];
  rows: readonly Record<string, unknown>[];
  caption?: string;
}

/**
 * An HTML `<table>` with every string escaped and numbers shown to 4 significant digits
 * (see formatNumber). Numeric columns are right-aligned unless told otherwise.
 */
export function table({ columns, rows, caption }: TableSpec): string {
  const cols = columns.map((c) => (typeof c === 'string' ? { key: c } : c));
  const align = cols.map((c) => c.align ?? (rows.some((r) => typeof r[c.key] === 'number') ? 'right' : 'left'));
  const cls = (i: number) => (align[i] === 'left' ? '' : ` class="${align[i]}"`);
  const head = cols.map((c, i) => `<th scope="col"${cls(i)}>${escapeHtml(c.title ?? c.key)}</th>`).join('');
  const body = rows
    .map((r) => `<tr>${cols.map((c, i) => `<td${cls(i)}>${escapeHtml(formatValue(r[c.key]))}</td>`).join('')}</tr>`)
    .join('\n');
  const cap = caption ? `<caption>${escapeHtml(caption)}</caption>` : '';
  return `<table class="data">${cap}<thead><tr>${head}</tr></thead>\n<tbody>\n${body}\n</tbody></table>`;
}
