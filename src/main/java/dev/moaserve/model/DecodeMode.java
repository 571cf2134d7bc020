package dev.moaserve.model;

import java.util.Locale;

/**
 * How a sequence's positions are decoded.
 *
 * <p>{@link #EXACT} is the model's generation semantics (docs/model-contract.md): the logits
 * after a prefix are those of a full forward of the prefix, so the current routed window's rows
 * are revised whenever a new token changes their routing. {@link #FROZEN} computes every
 * position's hidden states once, when it arrives, with the routing the canonical rule gives it
 * at that moment (its rank among the window's positions so far), and never revises them — the
 * KV-cache semantics of a dense server: one row per sequence per layer per token, an
 * approximation of the model as trained (its cost in loss: {@code eval --decode frozen}).
 */
public enum DecodeMode {
    EXACT, FROZEN;

    /** {@code exact} or {@code frozen}, any case. */
    public static DecodeMode parse(String name) {
        return EnumNames.parse(DecodeMode.class, name, "decode mode");
    }

    /** The name users write: {@code exact} or {@code frozen}. */
    public String label() {
        return name().toLowerCase(Locale.ROOT);
    }
}
