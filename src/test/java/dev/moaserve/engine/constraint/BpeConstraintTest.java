package dev.moaserve.engine.constraint;

import ai.djl.ndarray.NDManager;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.moaserve.decode.IncrementalDecoder;
import dev.moaserve.engine.Collect;
import dev.moaserve.engine.DecoderRunner;
import dev.moaserve.engine.EngineStats;
import dev.moaserve.engine.SamplingParams;
import dev.moaserve.engine.EngineLoop;
import dev.moaserve.engine.Scheduler;
import dev.moaserve.model.Djl;
import dev.moaserve.model.HfTokenizer;
import dev.moaserve.model.Init;
import dev.moaserve.model.ModelConfig;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Constraints over a Hugging Face BPE vocabulary (byte-level, with merged tokens such as
 * {@code {"}, {@code ":}, {@code true}), through the real tokenizer and the scheduler: tokens that
 * span several automaton transitions are allowed exactly when all of them are, and generated
 * outputs of generated schemas validate.
 */
class BpeConstraintTest {
    private static final ObjectMapper JSON = new ObjectMapper();
    /** Merged tokens: pairs, built up from the byte-level alphabet. */
    private static final List<String> MERGED = List.of("{\"", "\":", "\",", ",\"", "\"}", "tr", "ue", "true", "fa", "lse",
            "false", "nu", "ll", "null", "na", "me", "name", "\"name", "00", "12");

    @Test
    void multiCharacterTokensFollowTheAutomaton() throws Exception {
        HfTokenizer tk = tokenizer();
        Vocabulary v = Vocabulary.of(tk, tk.vocabSize());
        TokenConstraint c = new TokenConstraint("JSON schema", JsonSchemaAutomaton.of(JSON.readTree(
                "{\"type\":\"object\",\"properties\":{\"name\":{\"type\":\"boolean\"}},\"required\":[\"name\"]}"),
                new Budget(2_000, 100_000)), v);
        TokenConstraint.Cursor cur = c.start();
        assertTrue(cur.isAllowed(id(tk, "{\"")) && cur.isAllowed(id(tk, "{")), "both spellings of the start");
        assertTrue(!cur.isAllowed(id(tk, "\":")) && !cur.isAllowed(id(tk, "true")));
        cur.advance(id(tk, "{\""));
        assertTrue(cur.isAllowed(id(tk, "name")) && cur.isAllowed(id(tk, "na")) && !cur.isAllowed(id(tk, "\"name")));
        cur.advance(id(tk, "name"));
        cur.advance(id(tk, "\":"));
        assertTrue(cur.isAllowed(id(tk, "true")) && cur.isAllowed(id(tk, "fa")) && !cur.isAllowed(id(tk, "null")));
        cur.advance(id(tk, "true"));
        assertTrue(!cur.complete() && cur.isAllowed(id(tk, "}")) && !cur.isAllowed(id(tk, "\"}")));
        cur.advance(id(tk, "}"));
        assertTrue(cur.complete());
    }

    @Test
    void generatedOutputsValidateThroughTheScheduler() throws Exception {
        HfTokenizer tk = tokenizer();
        int vocab = tk.vocabSize();
        ModelConfig config = ModelConfig.builder().vocab(vocab).dim(32).depth(2).seqLen(512).localWindow(8).routedWindow(8)
                .routedQueries(4).routedKeyValues(8).experts(2).dimHead(8).heads(2).ffMult(2).build();
        Constraints constraints = new Constraints(() -> Vocabulary.of(tk, vocab), 16, 2_000, 200_000);
        Random random = new Random(5);
        int merged = 0;
        int complete = 0;
        try (NDManager m = Djl.newManager();
             IncrementalDecoder decoder = new IncrementalDecoder(Init.random(config, m, 9, 0.1f), 16, IncrementalDecoder.Recompute.LAZY);
             EngineLoop loop = EngineLoop.start(new Scheduler(new DecoderRunner(decoder), tk, new Scheduler.Limits(16, 512, 64, 0), EngineStats.NONE))) {
            Scheduler s = loop.scheduler();
            List<ObjectNode> schemas = new ArrayList<>();
            List<CompletableFuture<Collect.Result>> runs = new ArrayList<>();
            for (int i = 0; i < 12; i++) {
                ObjectNode schema = SchemaGen.schema(random, 1);
                while (!schema.toString().chars().allMatch(ch -> ch < 127)) {
                    schema = SchemaGen.schema(random, 1);
                }
                TokenConstraint c;
                try {
                    c = constraints.compile(new ConstraintSpec(ConstraintSpec.Kind.JSON_SCHEMA, schema.toString()));
                } catch (ConstraintException noValue) {
                    i--; // e.g. a oneOf whose branches overlap entirely
                    continue;
                }
                // random weights wander: a nudge towards closing quotes and brackets lets most values finish in 400 tokens
                Map<Integer, Float> closers = Map.of(id(tk, "\""), 2f, id(tk, "}"), 2f, id(tk, "]"), 2f, id(tk, "\"}"), 2f);
                SamplingParams p = SamplingParams.builder().seed((long) i).maxTokens(400).build()
                        .withLogitBias(closers).withConstraint(c);
                schemas.add(schema);
                runs.add(Collect.one(s, tk.encode("JSON:"), p));
            }
            for (int i = 0; i < runs.size(); i++) {
                Collect.Result run = runs.get(i).get(300, TimeUnit.SECONDS);
                if (run.reason() == dev.moaserve.engine.FinishReason.LENGTH) {
                    continue; // ran to max_tokens: a valid prefix, not a whole value
                }
                List<Integer> tokens = run.tokens();
                complete++;
                long[] ids = tokens.stream().mapToLong(Integer::longValue).toArray();
                String text = tk.decode(ids);
                for (long id : ids) {
                    merged += tk.tokenText(id).length() > 1 ? 1 : 0;
                }
                SchemaValidation.assertValid(schemas.get(i), text);
            }
        }
        assertTrue(complete >= 9, complete + " of 12 completed");
        assertTrue(merged > 0, "no multi-character token was ever used");
    }

    private static int id(HfTokenizer tk, String text) {
        for (int i = 0; i < tk.vocabSize(); i++) {
            if (tk.tokenText(i).equals(text)) {
                return i;
            }
        }
        throw new AssertionError("no token " + text);
    }

    /** A byte-level BPE tokenizer.json: printable ASCII (space as Ġ, newline as Ċ) plus {@link #MERGED}. */
    static HfTokenizer tokenizer() throws Exception {
        Map<String, Integer> vocab = new LinkedHashMap<>();
        vocab.put("Ċ", 0);
        for (char c = ' '; c <= '~'; c++) {
            vocab.put(c == ' ' ? "Ġ" : String.valueOf(c), vocab.size());
        }
        ArrayNode merges = JSON.createArrayNode();
        for (String t : MERGED) {
            // each merged token from its longest known prefix and the rest
            for (int cut = t.length() - 1; cut > 0; cut--) {
                String a = t.substring(0, cut);
                String b = t.substring(cut);
                if (vocab.containsKey(a) && vocab.containsKey(b)) {
                    merges.add(a + " " + b);
                    break;
                }
            }
            vocab.put(t, vocab.size());
        }
        ObjectNode root = JSON.createObjectNode();
        root.put("version", "1.0");
        root.putNull("truncation");
        root.putNull("padding");
        root.putArray("added_tokens");
        root.putNull("normalizer");
        root.putObject("pre_tokenizer").put("type", "ByteLevel").put("add_prefix_space", false).put("trim_offsets", true)
                .put("use_regex", false);
        root.putNull("post_processor");
        root.putObject("decoder").put("type", "ByteLevel").put("add_prefix_space", false).put("trim_offsets", true)
                .put("use_regex", false);
        ObjectNode model = root.putObject("model");
        model.put("type", "BPE");
        model.putNull("dropout");
        model.putNull("unk_token");
        model.putNull("continuing_subword_prefix");
        model.putNull("end_of_word_suffix");
        model.put("fuse_unk", false);
        model.put("byte_fallback", false);
        model.set("vocab", JSON.valueToTree(vocab));
        model.set("merges", merges);
        HfTokenizer tk = HfTokenizer.parse(JSON.writeValueAsBytes(root), "test tokenizer.json", vocab.size());
        assertEquals("{\"name\":true}", tk.decode(tk.encode("{\"name\":true}")), "round trip");
        return tk;
    }
}
