package dev.moaserve.testing;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;

/** The shipped model's sizes, read from its config.json, so tests of limits follow the model that ships. */
public final class EmbeddedModel {
    /** Prompt + completion tokens at most (seq_len). */
    public static final int CONTEXT;
    /** Token ids are below this. */
    public static final int VOCAB;
    /** Width of the hidden states (the embeddings' length). */
    public static final int DIM;

    static {
        try (InputStream in = EmbeddedModel.class.getClassLoader().getResourceAsStream("models/moa-shakespeare/config.json")) {
            JsonNode c = new ObjectMapper().readTree(in);
            CONTEXT = c.get("seq_len").asInt();
            VOCAB = c.get("num_tokens").asInt();
            DIM = c.get("dim").asInt();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private EmbeddedModel() {}
}
