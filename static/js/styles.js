// Saved styles: how a style's fragment goes into a prompt. Pure, so node's tests check it.
//
// As AUTOMATIC1111 and Fooocus do: a fragment that holds {prompt} takes the prompt in its place
// ("cinematic still of {prompt}, shallow depth of field"); any other fragment is appended after a
// comma. The same rule applies to the negative prompt.

export const PLACEHOLDER = "{prompt}";

export function applyStyle(text, fragment) {
  const prompt = String(text ?? "").trim().replace(/,+$/, "").trim();
  const style = String(fragment ?? "").trim();
  if (!style) return String(text ?? "");
  if (style.includes(PLACEHOLDER)) return style.replaceAll(PLACEHOLDER, prompt);
  return prompt ? `${prompt}, ${style}` : style;
}
