package dev.moaserve.engine;

import ai.djl.ndarray.types.DataType;
import dev.moaserve.model.MoaModel;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.util.concurrent.CancellationException;
import java.util.concurrent.CompletionException;
import java.util.concurrent.atomic.AtomicInteger;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Prompt scoring is bounded by its client: abandoned work is not started, or stops at the next token. */
class PromptScorerTest {
    private static MoaModel model;
    private static PromptScorer scorer;

    @BeforeAll
    static void load() {
        model = MoaModel.loadEmbedded();
        scorer = new PromptScorer(model.weights(), DataType.FLOAT32, 4);
    }

    @AfterAll
    static void close() {
        scorer.close();
        model.close();
    }

    private long[] prompt() {
        return model.tokenizer().encode("First Citizen:\nBefore we proceed any further, hear me speak.");
    }

    @Test
    void scoresEveryPositionWhileItsClientStays() {
        long[] ids = prompt();
        PromptScorer.Scores s = scorer.score(ids, 2, () -> false).join();
        assertEquals(ids.length, s.logprobs().length);
        assertTrue(Double.isNaN(s.logprobs()[0]));
        for (int t = 1; t < ids.length; t++) {
            assertTrue(s.logprobs()[t] <= 0 && s.topTokens()[t].length == 2, "position " + t);
        }
    }

    @Test
    void abandonedWorkIsNotStarted() {
        CompletionException e = assertThrows(CompletionException.class, () -> scorer.score(prompt(), 1, () -> true).join());
        assertInstanceOf(CancellationException.class, e.getCause());
    }

    @Test
    void workAbandonedMidwayStopsAtTheNextToken() {
        long[] ids = prompt();
        AtomicInteger checks = new AtomicInteger();
        // the client leaves after the prompt's 5th token
        CompletionException e = assertThrows(CompletionException.class,
                () -> scorer.score(ids, 1, () -> checks.incrementAndGet() > 6).join());
        assertInstanceOf(CancellationException.class, e.getCause());
        assertEquals(7, checks.get(), "checked once before it started and once per token, stopped at the first 'left'");
        assertTrue(ids.length > 20);
    }
}
