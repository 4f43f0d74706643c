"""Tokenizers written here, from vocabularies this module learns itself: nothing comes from the hub.

CLIP (byte-level BPE, `</w>` word ends), T5 (unigram) and Qwen2 (byte-level BPE) tokenizers over a
small English vocabulary for the tiny test pipelines, and the BPE learner the built-in model's own
tokenizer is made with.
"""

import functools
import itertools
import string
from collections import Counter
from collections.abc import Iterable, Sequence

from generation.builtin import shapes

MAX_TOKENS = 16  # the built-in model's prompts: "red circle on blue background" is 7 tokens with its markers

# Words that get a token of their own; anything else falls back to characters or bytes.
WORDS = """
a an the of and or with without in on at by for from to into over under near behind above below
is are this that very high low best quality detailed masterpiece photo photograph picture image
painting drawing sketch illustration render art artwork style portrait landscape closeup close up
wide shot cinematic lighting light dark night day sunset sunrise morning evening golden hour
studio soft hard dramatic moody bright colorful vibrant pastel black white red orange yellow green
blue purple pink brown gray grey silver gold
cat dog bird horse fox wolf bear lion tiger dragon fish owl rabbit
man woman boy girl person people child old young face eyes hair hands smile
house castle city street road bridge tower room window door garden park forest tree trees flower
flowers grass field mountain mountains hill river lake sea ocean beach island sky cloud clouds sun
moon star stars rain snow fog storm fire water ice stone rock sand desert jungle valley
car train ship boat plane robot space planet galaxy
oil watercolor digital anime cartoon realistic photorealistic hyperrealistic fantasy surreal
abstract minimalist vintage retro futuristic cyberpunk steampunk medieval ancient modern
sharp focus blurry blur bokeh depth field 4k 8k hdr ugly bad worst deformed noise noisy text
watermark signature lowres jpeg artifacts extra fingers cropped
""".split()




def byte_alphabet() -> list[str]:
    """The 256 symbols byte-level BPE writes raw bytes as (GPT-2's mapping), in byte order."""
    printable = [*range(ord("!"), ord("~") + 1), *range(ord("¡"), ord("¬") + 1), *range(ord("®"), ord("ÿ") + 1)]
    symbols, extra = [], 0
    for byte in range(256):
        if byte in printable:
            symbols.append(chr(byte))
        else:
            symbols.append(chr(256 + extra))
            extra += 1
    return symbols


def learn_merges(words: Iterable[Sequence[str]]) -> list[tuple[str, str]]:
    """Plain BPE training: merge the most frequent adjacent pair until every word is one symbol.

    Ties go to the alphabetically first pair, so every machine gets the same merges (the
    `tokenizers` trainer breaks ties by hash order). Learnt merges never get in each other's way
    the way hand-written ones do ("t o" for "to" stopping "photo" halfway).
    """
    symbols = [list(word) for word in words]
    merges: list[tuple[str, str]] = []
    while True:
        symbols = [word for word in symbols if len(word) > 1]  # finished words have no pairs left
        counts = Counter(pair for word in symbols for pair in itertools.pairwise(word))
        if not counts:
            return merges
        best = min(counts, key=lambda pair: (-counts[pair], pair))
        merges.append(best)
        for word in symbols:
            i = 0
            while i < len(word) - 1:
                if (word[i], word[i + 1]) == best:
                    word[i:i + 2] = [best[0] + best[1]]
                else:
                    i += 1


@functools.cache
def learn_bpe(words: tuple[tuple[str, ...], ...], *, base: tuple[str, ...], specials: tuple[str, ...]):
    """Vocabulary (specials, base symbols, then each merge's result) and merges for `words`.

    Cached: learning takes a second or two, and a tiny SDXL or FLUX needs it more than once.
    """
    merges = learn_merges(words)
    vocab: dict[str, int] = {}
    for token in [*specials, *base, *(left + right for left, right in merges)]:
        vocab.setdefault(token, len(vocab))
    return vocab, merges


def tiny_clip_tokenizer():
    """A CLIP tokenizer (byte-level BPE, `</w>` word ends) with a small English vocabulary."""
    from transformers import CLIPTokenizer

    alphabet = byte_alphabet()
    vocab, merges = learn_bpe(
        tuple((*word[:-1], word[-1] + "</w>") for word in WORDS),  # CLIP marks the end of each word
        base=tuple(alphabet + [symbol + "</w>" for symbol in alphabet]),
        specials=("<|startoftext|>", "<|endoftext|>"),
    )
    return CLIPTokenizer(vocab=dict(vocab), merges=list(merges), model_max_length=77)


def tiny_t5_tokenizer():
    """A T5 tokenizer (unigram, `▁` word starts) with a small English vocabulary."""
    from transformers import T5Tokenizer

    # Whole words are cheap (score -1), single characters expensive (-5): words win when they fit.
    alphabet = sorted(set(string.ascii_letters + string.digits + string.punctuation))
    pieces = [("<pad>", 0.0), ("</s>", 0.0), ("<unk>", 0.0), ("▁", -2.0)]
    pieces += [("▁" + word, -1.0) for word in WORDS]
    pieces += [(c, -5.0) for c in alphabet]
    return T5Tokenizer(vocab=pieces, extra_ids=0, model_max_length=512)


# Qwen's chat format, which the Z-Image pipeline applies to every prompt.
QWEN_CHAT_TEMPLATE = (
    "{% for message in messages %}<|im_start|>{{ message['role'] }}\n{{ message['content'] }}<|im_end|>\n"
    "{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)


def tiny_qwen_tokenizer():
    """A Qwen2 tokenizer (byte-level BPE, `Ġ` marks a leading space) with a small vocabulary."""
    from transformers import AddedToken, Qwen2Tokenizer

    specials = ("<|endoftext|>", "<|im_start|>", "<|im_end|>")
    # Each word both at the start of a text and after a space ("Ġ" is the byte symbol of a space).
    words = tuple(tuple(word) for word in WORDS) + tuple(("Ġ", *word) for word in WORDS)
    vocab, merges = learn_bpe(words, base=tuple(byte_alphabet()), specials=specials)
    tokenizer = Qwen2Tokenizer(vocab=dict(vocab), merges=list(merges), model_max_length=512)
    # The chat markers must stay whole tokens, never be split into bytes.
    tokenizer.add_tokens([AddedToken(t, special=True, normalized=False) for t in specials[1:]])
    tokenizer.chat_template = QWEN_CHAT_TEMPLATE
    return tokenizer


def shapes_tokenizer():
    """CLIP's BPE tokenizer over the model's words, with a normalizer that drops every other word.

    Saved with `PreTrainedTokenizerFast` as its class: loading it as `CLIPTokenizer` would rebuild
    CLIP's default normalizer and so forget which words to drop.
    """
    from tokenizers import Regex, normalizers
    from transformers import CLIPTokenizer

    alphabet = byte_alphabet()
    vocab, merges = learn_bpe(
        tuple((*word[:-1], word[-1] + "</w>") for word in shapes.VOCABULARY),
        base=tuple(alphabet + [symbol + "</w>" for symbol in alphabet]),
        specials=("<|startoftext|>", "<|endoftext|>"),
    )
    tokenizer = CLIPTokenizer(vocab=dict(vocab), merges=list(merges), model_max_length=MAX_TOKENS)
    known = "|".join(shapes.VOCABULARY)
    tokenizer.backend_tokenizer.normalizer = normalizers.Sequence([
        normalizers.NFC(),
        normalizers.Lowercase(),
        normalizers.Replace(Regex(r"[^a-z]+"), " "),  # punctuation and digits separate words
        normalizers.Replace(Regex(rf"\b(?!(?:{known})\b)[a-z]+\b"), " "),  # words it does not know
        normalizers.Replace(Regex(r"\s+"), " "),
    ])
    return tokenizer
