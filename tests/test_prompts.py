"""AUTOMATIC1111's attention syntax translated to compel's (generation/prompts.py)."""

import pytest

from generation.prompts import a1111_to_compel, has_weights


@pytest.mark.parametrize("a1111,compel", [
    ("a red fox", "a red fox"),
    ("a (red fox:1.3) in snow", "a (red fox)1.3 in snow"),
    ("a (red fox) in snow", "a (red fox)1.1 in snow"),
    ("a [blurry] photo", "a (blurry)0.9091 photo"),
    ("((masterpiece)), (fox:0.5)", "((masterpiece)1.1)1.1, (fox)0.5"),
    ("(a (red:1.5) fox:1.2)", "(a (red)1.5 fox)1.2"),
    (r"a \(literal\) bracket", r"a \(literal\) bracket"),
    ("time 10:30 (unclosed", "time 10:30 (unclosed"),
    ("(ratio 16:9)", "(ratio 16)9"),  # as AUTOMATIC1111 reads it, too
])
def test_it_translates_a1111_weights_to_compel(a1111, compel):
    assert a1111_to_compel(a1111) == compel


def test_it_tells_a_weighted_prompt_from_a_plain_one():
    assert has_weights("a (fox:1.2)") and not has_weights("a fox, 10:30")
