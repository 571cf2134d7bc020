package dev.moaserve.api;

import com.fasterxml.jackson.databind.JsonNode;
import dev.moaserve.api.protocol.Json;
import dev.moaserve.decode.DecodeState;
import dev.moaserve.decode.IncrementalDecoder;
import dev.moaserve.model.Djl;
import dev.moaserve.model.MoaModel;
import io.quarkus.test.junit.QuarkusTest;
import io.restassured.http.ContentType;
import jakarta.inject.Inject;
import org.junit.jupiter.api.Test;

import java.util.List;

import static io.restassured.RestAssured.given;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Prompt scoring ({@code echo} with {@code logprobs}): each prompt token's log-probability is what
 * {@code eval} adds up for it (exact decoding, one token per step, log-softmax in double), the
 * first is null, and lm-evaluation-harness's request shape answers as it reads it.
 */
@QuarkusTest
class PromptLogprobsTest {
    private static final String PASSAGE = "MENENIUS:\nEither you must confess yourselves wondrous malicious,\n"
            + "Or be accused of folly. I shall tell you a pretty tale: it may be you\nhave heard it; but, since it serves my purpose,"
            + " I will venture\nto stale 't a little more.\n";

    @Inject
    ModelService service;

    private static JsonNode post(String body) {
        String s = given().contentType(ContentType.JSON).body(body).post("/v1/completions").then().statusCode(200).extract().asString();
        try {
            return Json.MAPPER.readTree(s);
        } catch (Exception e) {
            throw new AssertionError(s, e);
        }
    }

    /** Eval's computation for one block: decode token by token, log-softmax of the next token in double. */
    private double[] evalLogprobs(long[] ids) {
        MoaModel m = service.generator().model();
        int v = m.config().numTokens();
        double[] out = new double[ids.length];
        Djl.inferenceThread();
        try (IncrementalDecoder dec = new IncrementalDecoder(m.weights(), 1, IncrementalDecoder.Recompute.LAZY);
             DecodeState s = dec.newState()) {
            for (int t = 0; t + 1 < ids.length; t++) {
                float[] logits = dec.decode(List.of(s), new long[] {ids[t]})[0];
                out[t + 1] = dev.moaserve.train.Evaluation.logProb(logits, (int) ids[t + 1], v);
            }
        }
        return out;
    }

    @Test
    void promptLogprobsAreWhatEvalSums() {
        JsonNode lp = post("{\"prompt\": " + Json.write(PASSAGE) + ", \"max_tokens\": 0, \"echo\": true, \"logprobs\": 2}")
                .at("/choices/0/logprobs");
        long[] ids = service.tokenizer().encode(PASSAGE);
        double[] want = evalLogprobs(ids);
        assertEquals(ids.length, lp.get("tokens").size());
        assertTrue(lp.get("token_logprobs").get(0).isNull(), "nothing predicts the first token");
        assertTrue(lp.get("top_logprobs").get(0).isNull());
        double served = 0;
        double eval = 0;
        for (int t = 1; t < ids.length; t++) {
            double got = lp.get("token_logprobs").get(t).asDouble();
            assertEquals(want[t], got, 1e-6, "token " + t);
            assertEquals(2, lp.get("top_logprobs").get(t).size());
            served += got;
            eval += want[t];
        }
        assertEquals(eval / (ids.length - 1), served / (ids.length - 1), 1e-9, "the passage's loss, from the served logprobs");
        StringBuilder text = new StringBuilder();
        for (int t = 0; t < ids.length; t++) {
            assertEquals(text.length(), lp.get("text_offset").get(t).asInt());
            text.append(lp.get("tokens").get(t).asText());
        }
        assertEquals(PASSAGE, text.toString());
    }

    @Test
    void lmEvalHarnessRequestShape() {
        // local-completions' loglikelihood request: context + continuation, echo, logprobs 1, max_tokens 1, temperature 0
        String context = "MENENIUS:\nEither you must confess yourselves wondrous ";
        String continuation = "malicious";
        JsonNode choice = post("{\"prompt\": " + Json.write(context + continuation) + ", \"echo\": true, \"logprobs\": 1,"
                + " \"max_tokens\": 1, \"temperature\": 0, \"seed\": 1234}").at("/choices/0");
        JsonNode lp = choice.get("logprobs");
        int ctxlen = service.tokenizer().encode(context).length;
        int total = service.tokenizer().encode(context + continuation).length;
        assertEquals(total + 1, lp.get("tokens").size(), "prompt tokens, then the one generated");
        assertTrue(choice.get("text").asText().startsWith(context + continuation));
        double[] want = evalLogprobs(service.tokenizer().encode(context + continuation));
        boolean greedy = true;
        double sum = 0;
        for (int t = ctxlen; t < total; t++) {  // lm-eval: token_logprobs[ctxlen:-1]
            sum += lp.get("token_logprobs").get(t).asDouble();
            JsonNode top = lp.get("top_logprobs").get(t);
            String best = top.fieldNames().next();
            greedy &= best.equals(lp.get("tokens").get(t).asText());
            assertEquals(want[t], lp.get("token_logprobs").get(t).asDouble(), 1e-6);
        }
        double expect = 0;
        for (int t = ctxlen; t < total; t++) {
            expect += want[t];
        }
        assertEquals(expect, sum, 1e-6);
        // is_greedy as lm-eval computes it, against the reference's own argmax
        boolean refGreedy = true;
        for (int t = ctxlen; t < total; t++) {
            JsonNode top = lp.get("top_logprobs").get(t);
            refGreedy &= top.get(lp.get("tokens").get(t).asText()) != null
                    && Math.abs(top.get(lp.get("tokens").get(t).asText()).asDouble() - want[t]) < 1e-6;
        }
        assertEquals(refGreedy, greedy);
    }

    @Test
    void streamedEchoCarriesThePromptLogprobsFirst() throws Exception {
        String body = given().contentType(ContentType.JSON).body("{\"prompt\": \"ROMEO:\\n\", \"echo\": true, \"logprobs\": 1,"
                + " \"max_tokens\": 5, \"stream\": true}").post("/v1/completions").then().statusCode(200).extract().asString();
        String first = body.lines().filter(l -> l.startsWith("data: {")).findFirst().orElseThrow().substring(6);
        JsonNode c = Json.MAPPER.readTree(first).at("/choices/0");
        assertEquals("ROMEO:\n", c.get("text").asText());
        assertEquals(7, c.at("/logprobs/tokens").size());
        given().contentType(ContentType.JSON).body("{\"prompt\": \"a\", \"echo\": true, \"logprobs\": 1, \"max_tokens\": 0, \"stream\": true}")
                .post("/v1/completions").then().statusCode(400);
        given().contentType(ContentType.JSON).body("{\"prompt\": \"a\", \"max_tokens\": 0}").post("/v1/completions").then().statusCode(400);
    }
}
