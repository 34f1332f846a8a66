/** Text from a manifest (problem text, reasons, model output) as HTML text or attribute value. */
export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (character) => `&#${character.charCodeAt(0)};`);
}

/**
 * JSON that can sit inside a `<script>` element: `<`, `>` and `&` become \u escapes, so no
 * `</script>` or `<!--` in the data can end the element early, and U+2028/2029 are escaped for
 * engines that still treat them as line ends in script source. JSON.parse reads it back unchanged.
 */
export function jsonForScript(value: unknown): string {
  return JSON.stringify(value)
    .replace(/</g, '\\u003c')
    .replace(/>/g, '\\u003e')
    .replace(/&/g, '\\u0026')
    .replace(/\u2028/g, '\\u2028')
    .replace(/\u2029/g, '\\u2029');
}
