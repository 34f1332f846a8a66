"""Writes a tiny llama-architecture GGUF model for the real-server tests (test/helpers/llama-server.ts).

Run with the python of .tools/llama-venv, which has the gguf package (scripts/setup.sh --test-tools):

    python write-tiny-model.py OUTPUT.gguf --template plain|list-aware [--reply TEXT] [--exact] [--seed N]

What the model does, and why it is built that way:
- Its vocabulary tokenizes any text: the printable ASCII characters are tokens of their own
  (SentencePiece style, a space written as U+2581), everything else falls back to the 256 byte
  tokens <0x00>..<0xFF>. Control tokens mark the chat turns; <|assistant|> ends the prompt.
- Its weights are seeded random noise (two layers of attention and feed-forward, small dims), with
  two hand-set parts on top, so that what it says is known in advance and ends by itself:
  * a chain: the token <|assistant|> is followed by the words of --reply, each by the next, the last
    by the end-of-sequence token. A free-text request gets exactly that reply, at any temperature a
    request may use (the margin is over 30 logits). Words are split at whitespace and rejoined with
    one space; with --exact the reply is instead cut into pieces of at most PIECE_CHARACTERS
    characters that keep every character (newlines, repeated words), for a step's whole answer: a
    JSON object or a fenced script. A grammar (json_object, json_schema) admits a piece when its
    characters fit, so an exact reply that is valid under the step's schema survives constrained
    decoding unchanged.
  * an order of preference among all other tokens (end of sequence, then the JSON closers " } ]),
    which a grammar-constrained request (json_object, with or without a schema) falls back on when
    it forbids the chain's word: strings close at once, arrays stay empty, objects end as soon as
    the grammar lets them, so the JSON is short and complete.
- The weights are stored as F16 (norms as F32): the file is about 260 KB.
"""

import argparse
import sys

import numpy as np
import gguf

EMBEDDING = 64
HEADS = 4
LAYERS = 2
FEED_FORWARD = 128
CONTEXT = 4096

UNKNOWN, BEGIN, END = "<unk>", "<s>", "</s>"
CHAT_MARKERS = ["<|system|>", "<|user|>", "<|assistant|>", "<|end|>"]
SPACE = "\u2581"

# Jinja chat templates. Both end the prompt with <|assistant|>, where the chain starts.
# "plain" writes each message's content as it is: a string, or (for a list of parts) the list itself.
PLAIN_TEMPLATE = (
    "{{ bos_token }}{% for message in messages %}"
    "<|{{ message['role'] }}|>\n{{ message['content'] }}<|end|>\n"
    "{% endfor %}{% if add_generation_prompt %}<|assistant|>{% endif %}"
)
# "list-aware" walks a list of content parts and keeps the text ones: an image part is dropped
# without a word, which is how a text-only model behind such a template answers image requests.
LIST_AWARE_TEMPLATE = (
    "{{ bos_token }}{% for message in messages %}"
    "<|{{ message['role'] }}|>\n"
    "{% if message['content'] is string %}{{ message['content'] }}"
    "{% else %}{% for part in message['content'] %}"
    "{% if part['type'] == 'text' %}{{ part['text'] }}{% endif %}"
    "{% endfor %}{% endif %}<|end|>\n"
    "{% endfor %}{% if add_generation_prompt %}<|assistant|>{% endif %}"
)
TEMPLATES = {"plain": PLAIN_TEMPLATE, "list-aware": LIST_AWARE_TEMPLATE}

# Preference of tokens outside the chain, in units of the bias dimension (about 5.5 logits each).
PREFERENCES = {END: 6.0, '"': 5.0, "}": 4.0, "]": 3.0, "{": 1.0, "f": 0.5, "0": 0.5}
SPECIAL_PREFERENCE = -6.0
WHITESPACE_PREFERENCE = -1.0
CHAIN_WEIGHT = 12.0
# llama-cpp-python detokenizes through a 32-byte buffer per token: a longer piece comes out garbled.
PIECE_CHARACTERS = 24


def reply_pieces(reply, exact):
    if exact:
        if not reply.isascii() or not reply.strip():
            sys.exit("--exact needs a non-blank ASCII --reply")
        chunks = [reply[start : start + PIECE_CHARACTERS] for start in range(0, len(reply), PIECE_CHARACTERS)]
        pieces = [chunk.replace(" ", SPACE) for chunk in chunks]
        if len(set(pieces)) != len(pieces):
            sys.exit("--reply repeats a piece: each piece's successor is fixed by the piece")
        return pieces
    words = reply.split()
    if not words:
        sys.exit("--reply must have at least one word")
    pieces = [words[0]] + [SPACE + word for word in words[1:]]
    if len(set(pieces)) != len(pieces):
        sys.exit("--reply must not repeat a word: each word's successor is fixed by the word")
    return pieces


def vocabulary(pieces):
    """Token texts and types: specials, chat markers, bytes, printable ASCII, then the reply's words."""
    tokens = [(UNKNOWN, gguf.TokenType.UNKNOWN), (BEGIN, gguf.TokenType.CONTROL), (END, gguf.TokenType.CONTROL)]
    tokens += [(marker, gguf.TokenType.CONTROL) for marker in CHAT_MARKERS]
    tokens += [(f"<0x{byte:02X}>", gguf.TokenType.BYTE) for byte in range(256)]
    tokens += [(SPACE, gguf.TokenType.NORMAL)]
    tokens += [(chr(code), gguf.TokenType.NORMAL) for code in range(0x21, 0x7F)]
    known = {text for text, _ in tokens}
    tokens += [(piece, gguf.TokenType.NORMAL) for piece in pieces if piece not in known]
    return tokens


def weights(tokens, pieces, seed):
    random = np.random.default_rng(seed)
    index = {text: position for position, (text, _) in enumerate(tokens)}
    chain = ["<|assistant|>"] + pieces
    if len(chain) + 1 > EMBEDDING // 2:
        sys.exit(f"--reply is too long: at most {EMBEDDING // 2 - 2} words (pieces)")
    vocabulary_size = len(tokens)

    # Dimension 0 is the same for every token (it carries the preferences); dimension 1 + i tells
    # chain token i apart; the rest is noise.
    embedding = random.normal(0.0, 0.05, (vocabulary_size, EMBEDDING))
    embedding[:, 0 : len(chain) + 1] = 0.0
    embedding[:, 0] = 1.0
    for position, text in enumerate(chain):
        embedding[index[text], 1 + position] = 1.0

    output = random.normal(0.0, 0.02, (vocabulary_size, EMBEDDING))
    output[:, 0 : len(chain) + 1] = 0.0
    for text, kind in tokens:
        if kind in (gguf.TokenType.CONTROL, gguf.TokenType.UNKNOWN) and text != END:
            output[index[text], 0] = SPECIAL_PREFERENCE
    for text in (SPACE, "<0x0A>", "<0x09>", "<0x0D>"):
        output[index[text], 0] = WHITESPACE_PREFERENCE
    for text, preference in PREFERENCES.items():
        output[index[text], 0] = preference
    for position, text in enumerate(chain):
        successor = chain[position + 1] if position + 1 < len(chain) else END
        output[index[successor], 1 + position] = CHAIN_WEIGHT

    head_dimension = EMBEDDING // HEADS
    tensors = {
        "token_embd.weight": embedding.astype(np.float16),
        "output_norm.weight": np.ones(EMBEDDING, dtype=np.float32),
        "output.weight": output.astype(np.float16),
    }
    # Real attention and feed-forward layers with small random weights: llama.cpp computes them,
    # and what they add to the residual stream is far below the hand-set margins.
    for layer in range(LAYERS):
        prefix = f"blk.{layer}"
        tensors[f"{prefix}.attn_norm.weight"] = np.ones(EMBEDDING, dtype=np.float32)
        tensors[f"{prefix}.ffn_norm.weight"] = np.ones(EMBEDDING, dtype=np.float32)
        shapes = {
            "attn_q": (HEADS * head_dimension, EMBEDDING),
            "attn_k": (HEADS * head_dimension, EMBEDDING),
            "attn_v": (HEADS * head_dimension, EMBEDDING),
            "attn_output": (EMBEDDING, HEADS * head_dimension),
            "ffn_gate": (FEED_FORWARD, EMBEDDING),
            "ffn_up": (FEED_FORWARD, EMBEDDING),
            "ffn_down": (EMBEDDING, FEED_FORWARD),
        }
        for name, shape in shapes.items():
            tensors[f"{prefix}.{name}.weight"] = random.normal(0.0, 0.02, shape).astype(np.float16)
    return tensors


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("output")
    parser.add_argument("--template", choices=sorted(TEMPLATES), required=True)
    parser.add_argument("--reply", default="Tiny model says hello.")
    parser.add_argument("--exact", action="store_true", help="keep every character of --reply (see above)")
    parser.add_argument("--seed", type=int, default=15)
    arguments = parser.parse_args()

    pieces = reply_pieces(arguments.reply, arguments.exact)
    tokens = vocabulary(pieces)
    writer = gguf.GGUFWriter(arguments.output, "llama")
    writer.add_name(f"scigen tiny test model ({arguments.template} template)")
    writer.add_context_length(CONTEXT)
    writer.add_embedding_length(EMBEDDING)
    writer.add_block_count(LAYERS)
    writer.add_feed_forward_length(FEED_FORWARD)
    writer.add_head_count(HEADS)
    writer.add_head_count_kv(HEADS)
    writer.add_rope_dimension_count(EMBEDDING // HEADS)
    writer.add_layer_norm_rms_eps(1e-5)
    writer.add_file_type(gguf.LlamaFileType.MOSTLY_F16)

    writer.add_tokenizer_model("llama")
    writer.add_token_list([text for text, _ in tokens])
    writer.add_token_scores([0.0] * len(tokens))
    writer.add_token_types([int(kind) for _, kind in tokens])
    writer.add_unk_token_id(0)
    writer.add_bos_token_id(1)
    writer.add_eos_token_id(2)
    writer.add_add_bos_token(False)
    writer.add_add_space_prefix(False)
    writer.add_chat_template(TEMPLATES[arguments.template])

    for name, tensor in weights(tokens, pieces, arguments.seed).items():
        writer.add_tensor(name, tensor)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()


if __name__ == "__main__":
    main()
