package dev.moaserve.model;

import ai.djl.huggingface.tokenizers.HuggingFaceTokenizer;

import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.util.Map;

/** A Hugging Face {@code tokenizer.json}, through DJL's (offline) Rust tokenizers binding. */
public final class HfTokenizer implements Tokenizer {
    private final HuggingFaceTokenizer tokenizer;
    private final int vocabSize;

    private HfTokenizer(HuggingFaceTokenizer tokenizer, int vocabSize) {
        this.tokenizer = tokenizer;
        this.vocabSize = vocabSize;
    }

    public static HfTokenizer parse(byte[] json, String source, int vocabSize) {
        try {
            HuggingFaceTokenizer t = HuggingFaceTokenizer.newInstance(new ByteArrayInputStream(json),
                    Map.of("addSpecialTokens", "false", "truncation", "false", "padding", "false",
                            "maxLength", "1000000"));
            return new HfTokenizer(t, vocabSize);
        } catch (IOException | RuntimeException e) {
            throw new ModelException(source + ": cannot load tokenizer: " + e.getMessage(), e);
        }
    }

    @Override
    public long[] encode(String text) {
        return tokenizer.encode(text, false, false).getIds();
    }

    @Override
    public String decode(long[] ids) {
        for (long id : ids) {
            if (id < 0 || id >= vocabSize) {
                throw new IllegalArgumentException("token id " + id + " is out of range [0, " + vocabSize + ")");
            }
        }
        return tokenizer.decode(ids, false);
    }

    @Override
    public String tokenText(long id) {
        return decode(new long[] {id});
    }

    @Override
    public int vocabSize() {
        return vocabSize;
    }
}
