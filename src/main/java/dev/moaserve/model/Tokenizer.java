package dev.moaserve.model;

/** Text ↔ token ids for one model. Implementations are thread-safe. */
public interface Tokenizer {
    long[] encode(String text);

    String decode(long[] ids);

    /** The text of one token on its own (for streaming and logprobs). */
    String tokenText(long id);

    int vocabSize();
}
