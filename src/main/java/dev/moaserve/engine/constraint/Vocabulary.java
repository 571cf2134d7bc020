package dev.moaserve.engine.constraint;

import dev.moaserve.model.Tokenizer;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * A model's tokens by their text, as a trie: the allowed tokens of an automaton state are found
 * by walking the trie and the automaton together, so tokens sharing a prefix share the work and
 * a token spanning several characters (BPE) is checked character by character. Tokens with no
 * text of their own (special tokens) or with an incomplete UTF-8 sequence (byte-level BPE pieces,
 * decoded as U+FFFD) are never allowed under a constraint.
 */
public final class Vocabulary {
    final int size;
    final String[] texts;
    final Node root = new Node();
    /** Characters that are a token on their own: any text over them can be spelled. */
    final StringBuilder singles = new StringBuilder();

    static final class Node {
        final Map<Character, Node> next = new HashMap<>();
        final List<Integer> tokens = new ArrayList<>(1);
    }

    private Vocabulary(String[] texts) {
        this.size = texts.length;
        this.texts = texts;
        for (int id = 0; id < texts.length; id++) {
            String t = texts[id];
            if (t == null || t.isEmpty() || t.indexOf('\uFFFD') >= 0) {
                continue;
            }
            Node n = root;
            for (int i = 0; i < t.length(); i++) {
                n = n.next.computeIfAbsent(t.charAt(i), c -> new Node());
            }
            n.tokens.add(id);
            if (t.length() == 1 && singles.indexOf(t) < 0) {
                singles.append(t);
            }
        }
    }

    /** The {@code size} token ids of a model, by their text through its tokenizer. */
    public static Vocabulary of(Tokenizer tokenizer, int size) {
        String[] texts = new String[size];
        for (int id = 0; id < size; id++) {
            try {
                texts[id] = tokenizer.tokenText(id);
            } catch (RuntimeException outsideTheTokenizer) {
                texts[id] = null; // the model's embedding is larger than the tokenizer's vocabulary
            }
        }
        return new Vocabulary(texts);
    }

    static Vocabulary ofTexts(String... texts) {
        return new Vocabulary(texts);
    }
}
