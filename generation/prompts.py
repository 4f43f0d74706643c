"""Prompt syntax, without torch: AUTOMATIC1111's attention syntax translated to compel's.

AUTOMATIC1111 (and Runware's `sdEmbeds`) write `(word:1.3)` for a weight, `(word)` for x1.1 and
`[word]` for /1.1, nested freely; `\\(` is a literal bracket. compel writes `(word)1.3`. Everything
else passes through unchanged.
"""

A1111_UP = 1.1
A1111_DOWN = round(1 / 1.1, 4)


def _weight_suffix(inner: str) -> tuple[str, float | None]:
    """`text:1.3` -> (`text`, 1.3); anything else -> (inner, None)."""
    head, sep, tail = inner.rpartition(":")
    if not sep:
        return inner, None
    try:
        return head, float(tail.strip())
    except ValueError:
        return inner, None


def a1111_to_compel(prompt: str) -> str:
    """Translate `(a:1.3)`, `(a)`, `[a]` (nested) to compel's `(a)1.3`, `(a)1.1`, `(a)0.9091`."""
    # A stack of open groups: (bracket, text collected so far).
    stack: list[tuple[str, list[str]]] = [("", [])]
    i = 0
    while i < len(prompt):
        char = prompt[i]
        if char == "\\" and i + 1 < len(prompt) and prompt[i + 1] in "()[]":
            stack[-1][1].append(prompt[i:i + 2])
            i += 2
            continue
        if char in "([":
            stack.append((char, []))
        elif char in ")]" and len(stack) > 1 and stack[-1][0] == ("(" if char == ")" else "["):
            bracket, parts = stack.pop()
            inner = "".join(parts)
            if bracket == "(":
                inner, weight = _weight_suffix(inner)
                weight = A1111_UP if weight is None else weight
            else:
                weight = A1111_DOWN
            stack[-1][1].append(f"({inner}){weight:g}")
        else:
            stack[-1][1].append(char)
        i += 1
    # Unclosed groups stay as the user wrote them.
    while len(stack) > 1:
        bracket, parts = stack.pop()
        stack[-1][1].append(bracket + "".join(parts))
    return "".join(stack[0][1])


def has_weights(prompt: str) -> bool:
    """Whether a prompt uses attention syntax at all (a form can then suggest promptWeighting)."""
    return a1111_to_compel(prompt) != prompt
