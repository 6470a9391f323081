const HTML_ESCAPES: Record<string, string> = {
  '&': '&amp;',
  '<': '&lt;',
  '>': '&gt;',
  '"': '&quot;',
  "'": '&#39;',
};

/** Escapes text for use in HTML content and quoted attribute values. */
export function escapeHtml(value: unknown): string {
  return String(value ?? '').replace(/[&<>"']/g, (c) => HTML_ESCAPES[c]!);
}

/**
 * Formats a number for tables and the meta block: 4 significant digits, integers shown
 * exactly (counts, steps), and exponent notation only outside 1e-3 … 1e6 so columns stay short.
 */
export function formatNumber(x: number): string {
  if (Number.isNaN(x)) return 'NaN';
  if (!Number.isFinite(x)) return x > 0 ? '∞' : '−∞';
  if (x === 0) return '0';
  const abs = Math.abs(x);
  if (Number.isInteger(x) && abs < 1e6) return String(x);
  if (abs >= 1e-3 && abs < 1e6) {
    const s = x.toPrecision(4);
    // toPrecision(4) switches to exponent form for 1e4 ≤ |x| < 1e6 (e.g. "1.235e+4").
    return s.includes('e') ? String(Number(s)) : s;
  }
  return x.toExponential(3).replace('e+', 'e');
}

/** Display form of a table / meta value. */
export function formatValue(v: unknown): string {
  if (typeof v === 'number') return formatNumber(v);
  if (typeof v === 'bigint') return v.toString();
  if (v == null) return '—';
  return String(v);
}
