package dev.moaserve.engine;

import dev.moaserve.model.Tokenizer;
import org.jboss.logging.Logger;

import java.util.ArrayList;
import java.util.List;

/**
 * One running sequence of the scheduler: its request, its state on the runner, how much of its
 * prompt it has fed, its sampler and stop matcher; and the rules that end it (emit, finish).
 */
final class Sequence {
    private static final Logger LOG = Logger.getLogger(Sequence.class);

    final GenerationRequest request;
    final Sequence leader;     // n > 1: the sequence whose prefill this one forks from
    StepRunner.State state;    // null: a fork waiting for its leader to reach forkAt
    final int forkAt;          // the boundary at which forks copy this (leader's) state
    final Sampler sampler;
    final StopMatcher stop;
    final List<Integer> generated = new ArrayList<>();
    int fed;          // prompt tokens fed so far (chunked prefill)
    int cached;       // prompt tokens taken from the prefix cache or the leader
    long lastToken;
    long lastTokenNanos;
    boolean done;

    Sequence(GenerationRequest r, Sequence leader, int window, int vocab) {
        this.request = r;
        this.leader = leader;
        this.forkAt = (r.prompt().length - 1) / window * window; // forks still feed ≥ 1 token: they need its logits
        this.sampler = new Sampler(r.params(), vocab, r.seed());
        for (long t : r.prompt()) {
            sampler.observe(t);
        }
        this.stop = new StopMatcher(r.params().stop());
    }

    /** Its whole prompt is fed: each step gives it one token. */
    boolean decoding() {
        return state != null && fed == request.prompt().length;
    }

    /** Takes a sampled token: emits its text, and ends the sequence on a stop string, a complete constraint or max_tokens. */
    void emit(Sampler.Choice c, Tokenizer tokenizer, EngineStats stats, long now) {
        if (sampler.constraintEnded()) {
            flushHeldText(); // the model ended its constrained output: the token it chose is not part of it
            finish(FinishReason.STOP, null, stats, now);
            return;
        }
        if (generated.isEmpty()) {
            stats.firstToken((now - request.createdNanos()) / 1e9);
        } else {
            stats.interToken((now - lastTokenNanos) / 1e9);
        }
        lastTokenNanos = now;
        generated.add(c.token());
        lastToken = c.token();
        String text = stop.append(tokenizer.tokenText(c.token()));
        request.listener().onToken(c.token(), text, c);
        if (stop.stopped()) {
            finish(FinishReason.STOP, null, stats, now);
        } else if (sampler.constraintComplete()) {
            flushHeldText(); // the constraint's output is whole: nothing is held back for a stop string
            finish(FinishReason.STOP, null, stats, now);
        } else if (generated.size() >= request.params().maxTokens() && sampler.constraintAccepted()) {
            flushHeldText(); // the budget rule closed the constrained output in time: it is whole
            finish(FinishReason.STOP, null, stats, now);
        } else if (generated.size() >= request.params().maxTokens()) {
            flushHeldText();
            finish(FinishReason.LENGTH, null, stats, now);
        }
    }

    /** Text held back because it might start a stop string, released as text without a token. */
    private void flushHeldText() {
        String tail = stop.flush();
        if (!tail.isEmpty()) {
            request.listener().onToken(-1, tail, null);
        }
    }

    /** Ends the sequence once (its state is freed when the scheduler retires it). */
    void finish(FinishReason reason, String error, EngineStats stats, long now) {
        if (done) {
            return;
        }
        done = true;
        double secs = (now - request.createdNanos()) / 1e9;
        stats.finished(reason.label(), request.prompt().length, generated.size(), secs);
        try {
            request.listener().onFinish(new TokenListener.Finish(reason, request.prompt().length,
                    generated.size(), stop.text(), error, cached, stop.matched()));
        } catch (RuntimeException e) {
            LOG.warn("listener of " + request.id() + " failed", e);
        }
    }
}
