package dev.moaserve.train;

import dev.moaserve.model.CharTokenizer;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * A character-level corpus split as nanoGPT's {@code shakespeare_char/prepare.py} does: the
 * vocabulary is every distinct character of the whole text, the first 90% of characters is the
 * training split and the last 10% the validation split.
 */
public record TextData(CharTokenizer tokenizer, int[] train, int[] val) {

    public static TextData load(Path file, double trainFraction) throws IOException {
        return load(file, trainFraction, false);
    }

    /** @param ascii the vocabulary is printable ASCII + tab + newline (+ the text's other characters), not only the text's */
    public static TextData load(Path file, double trainFraction, boolean ascii) throws IOException {
        String text = Files.readString(file, StandardCharsets.UTF_8);
        return of(text, ascii ? CharTokenizer.asciiAnd(text) : CharTokenizer.fromText(text), trainFraction);
    }

    public static TextData of(String text, CharTokenizer tokenizer, double trainFraction) {
        int[] cps = text.codePoints().toArray();
        int cut = (int) (cps.length * trainFraction);
        long[] ids = tokenizer.encode(text);
        int[] all = new int[ids.length];
        for (int i = 0; i < ids.length; i++) {
            all[i] = (int) ids[i];
        }
        return new TextData(tokenizer, java.util.Arrays.copyOfRange(all, 0, cut),
                java.util.Arrays.copyOfRange(all, cut, all.length));
    }
}
