/**
 * Text-width estimate for vega when no canvas is available.
 *
 * Without the `canvas` package vega guesses every glyph is 0.8 em wide, which is ~45 %
 * too wide for sans-serif text and leaves charts with lopsided padding. Widths here are
 * Helvetica's (per-mille em, printable ASCII) scaled up a little so that wider fallbacks
 * (DejaVu Sans on Linux) still fit; layout only needs the estimate, not exact metrics.
 */
const HELVETICA: readonly number[] = [
  // space ! " # $ % & ' ( ) * + , - . /
  278, 278, 355, 556, 556, 889, 667, 191, 333, 333, 389, 584, 278, 333, 278, 278,
  // 0-9
  556, 556, 556, 556, 556, 556, 556, 556, 556, 556,
  // : ; < = > ? @
  278, 278, 584, 584, 584, 556, 1015,
  // A-Z
  667, 667, 722, 722, 667, 611, 778, 722, 278, 500, 667, 556, 833, 722, 778, 667, 778, 722, 667,
  611, 722, 667, 944, 667, 667, 611,
  // [ \ ] ^ _ `
  278, 278, 278, 469, 556, 333,
  // a-z
  556, 556, 500, 556, 556, 278, 556, 556, 222, 222, 500, 222, 833, 556, 556, 556, 556, 333, 500,
  278, 556, 500, 722, 500, 500, 500,
  // { | } ~
  334, 260, 334, 584,
];
const OTHER = 620; // Greek, ±, ×, −, … : roughly a digit-and-a-bit
const FALLBACK_SCALE = 1.08;
const BOLD_SCALE = 1.06;

export function estimateTextWidth(text: string, fontSize: number, bold = false): number {
  let perMille = 0;
  for (const ch of text) {
    const code = ch.codePointAt(0)!;
    perMille += code >= 32 && code < 127 ? HELVETICA[code - 32]! : OTHER;
  }
  return (perMille / 1000) * fontSize * FALLBACK_SCALE * (bold ? BOLD_SCALE : 1);
}

/** The shape of a vega scenegraph text item, as far as measuring goes. */
interface TextItem {
  fontSize?: number | string;
  fontWeight?: number | string;
}

/** Same signature as vega's `textMetrics.width`. */
export function vegaTextWidth(item: TextItem, text: unknown): number {
  const size = item.fontSize != null ? +item.fontSize || 0 : 11; // vega's default font size
  const weight = item.fontWeight;
  const bold = weight === 'bold' || weight === 'bolder' || (weight != null && +weight >= 600);
  return estimateTextWidth(text == null ? '' : String(text).trim(), size, bold);
}
