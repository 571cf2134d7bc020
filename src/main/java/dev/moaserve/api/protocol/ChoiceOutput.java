package dev.moaserve.api.protocol;

import dev.moaserve.engine.TokenListener;

import java.util.ArrayList;
import java.util.List;

/** One choice's output so far: collected by the response writer, read by the renderers. */
public final class ChoiceOutput {
    private final int index;
    private final GenerationSpec part;
    private final boolean leads;
    private final java.util.function.LongSupplier seed;
    private final java.util.function.Supplier<dev.moaserve.engine.PromptScorer.Scores> scores;
    private final StringBuilder text = new StringBuilder();
    private final List<TokenEvent> tokens = new ArrayList<>();
    private long firstTokenNanos;
    private TokenListener.Finish finish;
    private com.fasterxml.jackson.databind.node.ObjectNode routing;
    private List<ToolCalls.Call> calls;
    private boolean callsRead;

    /**
     * @param part   the prompt's spec this choice answers (a completions request may carry several)
     * @param leads  the first choice of its prompt (usage counts each prompt once)
     * @param seed   the seed the choice samples with (the request's, or the random one the engine drew)
     * @param scores its prompt's log-probabilities once scored (echo with logprobs), else null
     */
    public ChoiceOutput(int index, GenerationSpec part, boolean leads, java.util.function.LongSupplier seed,
                        java.util.function.Supplier<dev.moaserve.engine.PromptScorer.Scores> scores) {
        this.index = index;
        this.part = part;
        this.leads = leads;
        this.seed = seed;
        this.scores = scores;
    }

    /** The prompt's spec this choice answers. */
    public GenerationSpec part() {
        return part;
    }

    /** The first choice of its prompt. */
    public boolean leads() {
        return leads;
    }

    /** Its prompt's log-probabilities (echo with logprobs); null when not asked or not yet scored. */
    public dev.moaserve.engine.PromptScorer.Scores promptScores() {
        return scores.get();
    }

    /** Appends an event's text (and its token, unless it is released held-back text). */
    public void add(TokenEvent t) {
        if (firstTokenNanos == 0) {
            firstTokenNanos = System.nanoTime();
        }
        if (t.token() >= 0) {
            tokens.add(t);
        }
        text.append(t.text());
    }

    public void finish(TokenListener.Finish f) {
        this.finish = f;
    }

    /** The choice's routing object (return_routing), set when it ends. */
    public void routing(com.fasterxml.jackson.databind.node.ObjectNode r) {
        this.routing = r;
    }

    /** The tool calls of the finished answer (read once, so their ids stay the same); null when it is text. */
    public List<ToolCalls.Call> calls(ToolCalls tools) {
        if (!callsRead) {
            callsRead = true;
            calls = tools == null || finish == null ? null : tools.calls(finish.text());
        }
        return calls;
    }

    /** Null unless the request asked for the routing. */
    public com.fasterxml.jackson.databind.node.ObjectNode routing() {
        return routing;
    }

    public int index() {
        return index;
    }

    /** The seed it sampled with (TGI reports it). */
    public long seed() {
        return seed.getAsLong();
    }

    /** The text released so far. */
    public CharSequence text() {
        return text;
    }

    /** The tokens so far, in order. */
    public List<TokenEvent> tokens() {
        return tokens;
    }

    /** When the first event arrived (0: none yet). */
    public long firstTokenNanos() {
        return firstTokenNanos;
    }

    /** How the choice ended; null while it runs. */
    public TokenListener.Finish finish() {
        return finish;
    }
}
