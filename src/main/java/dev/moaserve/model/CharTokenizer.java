package dev.moaserve.model;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;

import java.io.IOException;
import java.util.HashMap;
import java.util.Map;

/**
 * Character-level tokenizer: token i is the i-th code point of the vocabulary string, stored with
 * the model as {@code vocab.json} ({@code {"type": "char", "chars": "..."}}). Characters outside
 * the vocabulary are rejected, never silently dropped.
 */
public final class CharTokenizer implements Tokenizer {
    private final int[] codePoints;
    private final Map<Integer, Integer> ids = new HashMap<>();

    public CharTokenizer(String chars) {
        this.codePoints = chars.codePoints().toArray();
        for (int i = 0; i < codePoints.length; i++) {
            if (ids.put(codePoints[i], i) != null) {
                throw new ModelException("vocab.json: character '" + Character.toString(codePoints[i])
                        + "' appears twice");
            }
        }
    }

    public static CharTokenizer parse(byte[] json, String source) {
        try {
            JsonNode n = new ObjectMapper().readTree(json);
            if (n == null || !"char".equals(n.path("type").asText()) || !n.path("chars").isTextual()) {
                throw new ModelException(source + ": expected {\"type\": \"char\", \"chars\": \"...\"}");
            }
            return new CharTokenizer(n.get("chars").asText());
        } catch (IOException e) {
            throw new ModelException(source + ": not valid JSON: " + e.getMessage(), e);
        }
    }

    /** The vocabulary of a text: its distinct characters in code-point order (as nanoGPT's prepare.py). */
    public static CharTokenizer fromText(String text) {
        StringBuilder sb = new StringBuilder();
        text.codePoints().distinct().sorted().forEach(sb::appendCodePoint);
        return new CharTokenizer(sb.toString());
    }

    /**
     * Printable ASCII (space … '~'), newline and tab, plus any other character of {@code text}:
     * a vocabulary that accepts what users type (digits, braces, quotes, '@', '+', '/' …) even
     * where the training text never has them; unseen characters keep their ids, so structured
     * output can still produce them.
     */
    public static CharTokenizer asciiAnd(String text) {
        StringBuilder sb = new StringBuilder();
        java.util.stream.IntStream.concat(java.util.stream.IntStream.of('\t', '\n'),
                        java.util.stream.IntStream.rangeClosed(' ', '~'))
                .forEach(sb::appendCodePoint);
        String base = sb.toString();
        text.codePoints().distinct().sorted().filter(cp -> base.indexOf(cp) < 0).forEach(sb::appendCodePoint);
        return new CharTokenizer(sb.toString());
    }

    public String chars() {
        StringBuilder sb = new StringBuilder();
        for (int cp : codePoints) {
            sb.appendCodePoint(cp);
        }
        return sb.toString();
    }

    @Override
    public long[] encode(String text) {
        int[] cps = text.codePoints().toArray();
        long[] out = new long[cps.length];
        for (int i = 0; i < cps.length; i++) {
            Integer id = ids.get(cps[i]);
            if (id == null) {
                throw new IllegalArgumentException("character " + describe(cps[i]) + " at offset " + i
                        + " is not in the model's vocabulary");
            }
            out[i] = id;
        }
        return out;
    }

    private static String describe(int cp) {
        return Character.isISOControl(cp) || Character.isWhitespace(cp)
                ? String.format("U+%04X", cp) : "'" + Character.toString(cp) + "' (U+" + String.format("%04X", cp) + ")";
    }

    @Override
    public String decode(long[] tokens) {
        StringBuilder sb = new StringBuilder(tokens.length);
        for (long t : tokens) {
            sb.append(tokenText(t));
        }
        return sb.toString();
    }

    @Override
    public String tokenText(long id) {
        if (id < 0 || id >= codePoints.length) {
            throw new IllegalArgumentException("token id " + id + " is out of range [0, " + codePoints.length + ")");
        }
        return Character.toString(codePoints[(int) id]);
    }

    @Override
    public int vocabSize() {
        return codePoints.length;
    }
}
