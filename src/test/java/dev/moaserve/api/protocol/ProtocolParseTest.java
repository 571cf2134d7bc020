package dev.moaserve.api.protocol;

import com.fasterxml.jackson.databind.JsonNode;
import dev.moaserve.model.CharTokenizer;
import dev.moaserve.model.ChatTemplate;
import dev.moaserve.model.DecodeMode;
import dev.moaserve.model.Tokenizer;
import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.Set;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The three APIs' parsers on their own: plain JSON in, a typed spec or a 400 naming the field out (no server, no model). */
class ProtocolParseTest {
    /** A served model of 38 characters and a 40-token context; frozen decoding allowed. */
    private static final ServedModel MODEL = new ServedModel() {
        private final Tokenizer tk = new CharTokenizer("abcdefghijklmnopqrstuvwxyz :\n!ASERUITN");

        @Override
        public String name() {
            return "m";
        }

        @Override
        public Tokenizer tokenizer() {
            return tk;
        }

        @Override
        public int contextLength() {
            return 40;
        }

        @Override
        public ChatTemplate chatTemplate() {
            return ChatTemplate.DEFAULT;
        }

        @Override
        public DecodeMode decodeDefault() {
            return DecodeMode.EXACT;
        }

        @Override
        public Set<DecodeMode> decodeAllowed() {
            return Set.of(DecodeMode.EXACT, DecodeMode.FROZEN);
        }

        @Override
        public boolean routingVisible() {
            return true;
        }

        @Override
        public boolean priorityScheduling() {
            return false;
        }
    };

    private static JsonNode json(String s) throws Exception {
        return Json.MAPPER.readTree(s);
    }

    private static ApiException refused(Protocol p, String body) {
        return assertThrows(ApiException.class, () -> p.parse(json(body), MODEL, false));
    }

    @Test
    void completionsDefaultsAndFields() throws Exception {
        GenerationSpec s = Protocol.COMPLETIONS.parse(json("{\"prompt\": \"hi there\"}"), MODEL, false);
        assertEquals(8, s.request().prompt().length);
        assertEquals(16, s.request().params().maxTokens(), "OpenAI's default max_tokens for completions");
        assertEquals(1.0, s.request().params().temperature());
        assertFalse(s.answer().stream());
        assertEquals(1, s.request().n());
        assertTrue(s.request().constraint().isEmpty());
        GenerationSpec t = Protocol.COMPLETIONS.parse(json("{\"prompt\": [1, 2, 3], \"max_tokens\": 4, \"stop\": \"!\","
                + " \"n\": 2, \"seed\": 9, \"stream\": true, \"moa_decode\": \"frozen\", \"echo\": true}"), MODEL, false);
        assertEquals("bcd", t.answer().promptText());
        assertEquals(List.of("!"), t.request().params().stop());
        assertEquals(9L, t.request().params().seed());
        assertTrue(t.answer().stream() && t.answer().echo());
        assertEquals(DecodeMode.FROZEN, t.request().decode());
    }

    @Test
    void chatRendersTheTemplateAndTakesTheRestOfTheContext() throws Exception {
        GenerationSpec s = Protocol.CHAT.parse(json("{\"messages\": [{\"role\": \"user\", \"content\": \"hi\"}]}"), MODEL, false);
        assertEquals("USER:\nhi\n\nASSISTANT:\n", s.answer().promptText());
        assertEquals(40 - s.request().prompt().length, s.request().params().maxTokens());
        assertTrue(s.request().params().stop().contains("\n\n"), "the template's stop string");
        assertFalse(s.answer().chatLogprobs());
    }

    @Test
    void tgiIsGreedyUnlessItSamples() throws Exception {
        GenerationSpec greedy = Protocol.TGI.parse(json("{\"inputs\": \"abc\"}"), MODEL, true);
        assertEquals(0.0, greedy.request().params().temperature());
        assertEquals(20, greedy.request().params().maxTokens());
        assertTrue(greedy.answer().stream(), "the route streams");
        GenerationSpec sampled = Protocol.TGI.parse(json("{\"inputs\": \"abc\", \"parameters\": {\"top_k\": 5}}"), MODEL, false);
        assertEquals(1.0, sampled.request().params().temperature());
        assertEquals(5, sampled.request().params().topK());
    }

    @Test
    void badFieldsAreNamed() {
        assertEquals("frobnicate", refused(Protocol.COMPLETIONS, "{\"prompt\": \"a\", \"frobnicate\": 1}").param());
        ApiException ctx = refused(Protocol.COMPLETIONS, "{\"prompt\": \"abc\", \"max_tokens\": 38}");
        assertEquals("context_length_exceeded", ctx.code());
        assertEquals("max_tokens", ctx.param());
        assertEquals("prompt", refused(Protocol.COMPLETIONS, "{\"prompt\": \"ABC\"}").param(), "a character outside the vocabulary");
        assertEquals("messages[0].role", refused(Protocol.CHAT, "{\"messages\": [{\"role\": \"robot\", \"content\": \"x\"}]}").param());
        assertEquals("parameters.top_p", refused(Protocol.TGI, "{\"inputs\": \"a\", \"parameters\": {\"top_p\": 1.0}}").param());
        assertEquals(404, refused(Protocol.COMPLETIONS, "{\"prompt\": \"a\", \"model\": \"other\"}").status());
        assertEquals("moa_decode", refused(Protocol.COMPLETIONS, "{\"prompt\": \"a\", \"moa_decode\": \"turbo\"}").param());
        String longStop = "x".repeat(RequestFields.MAX_STOP_CHARS + 1);
        assertEquals("stop", refused(Protocol.COMPLETIONS, "{\"prompt\": \"a\", \"stop\": [\"" + longStop + "\"]}").param());
    }

    @Test
    void errorShapes() {
        ApiException e = ApiException.invalid("x", "bad x");
        assertEquals(400, ErrorShape.OPENAI.status(e));
        assertEquals(422, ErrorShape.TGI.status(e));
        assertEquals("bad x", ErrorShape.OPENAI.body(e).at("/error/message").asText());
        assertEquals("validation", ErrorShape.TGI.body(e).get("error_type").asText());
        assertEquals(ErrorShape.TGI, ErrorShape.forPath("/generate_stream"));
        assertEquals(ErrorShape.TGI, ErrorShape.forPath("/embed"));
        assertEquals(ErrorShape.OPENAI, ErrorShape.forPath("/v1/embeddings"));
    }

    @Test
    void routingIsAskedForExactDecodingOnly() throws Exception {
        GenerationSpec spec = Protocol.COMPLETIONS.parse(json("{\"prompt\": \"ab\", \"max_tokens\": 2, \"return_routing\": true,"
                + " \"routing_start\": 1}"), MODEL, false);
        assertEquals(1, spec.request().routingFrom().getAsInt());
        assertEquals("return_routing", refused(Protocol.COMPLETIONS,
                "{\"prompt\": \"ab\", \"return_routing\": true, \"moa_decode\": \"frozen\"}").param());
        assertEquals("routing_start", refused(Protocol.COMPLETIONS, "{\"prompt\": \"ab\", \"routing_start\": 1}").param());
        assertEquals("parameters.return_routing", refused(Protocol.TGI,
                "{\"inputs\": \"ab\", \"parameters\": {\"return_routing\": true, \"moa_decode\": \"frozen\"}}").param());
    }

    @Test
    void aPriorityOnAFirstComeFirstServedServerIsRefused() throws Exception {
        assertEquals(0, Protocol.COMPLETIONS.parse(json("{\"prompt\": \"ab\", \"priority\": 0}"), MODEL, false).request().priority());
        assertEquals("priority", refused(Protocol.COMPLETIONS, "{\"prompt\": \"ab\", \"priority\": -3}").param());
        assertEquals("priority", refused(Protocol.CHAT, "{\"messages\": [{\"role\": \"user\", \"content\": \"a\"}], "
                + "\"priority\": 2}").param());
        assertEquals("priority", refused(Protocol.COMPLETIONS, "{\"prompt\": \"ab\", \"priority\": 10000000}").param());
    }

    @Test
    void aListOfTokenIdListsIsOnePromptEach() throws Exception {
        GenerationSpec s = Protocol.COMPLETIONS.parse(json("{\"prompt\": [[1, 2, 3]], \"max_tokens\": 2}"), MODEL, false);
        org.junit.jupiter.api.Assertions.assertArrayEquals(new long[] {1, 2, 3}, s.request().prompt());
        assertEquals(2, Protocol.COMPLETIONS.parseAll(json("{\"prompt\": [[1], [2]], \"max_tokens\": 2}"), MODEL, false).size(),
                "a list of token-id lists is several prompts");
        assertEquals("prompt", refused(Protocol.COMPLETIONS, "{\"prompt\": [[]]}").param());
    }
}
