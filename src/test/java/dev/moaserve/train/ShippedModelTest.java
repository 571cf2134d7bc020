package dev.moaserve.train;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.moaserve.SharedData;
import dev.moaserve.engine.Sampler;
import dev.moaserve.engine.SamplingParams;
import dev.moaserve.decode.DecodeState;
import dev.moaserve.decode.IncrementalDecoder;
import dev.moaserve.model.MoaModel;
import org.junit.jupiter.api.Test;

import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.regex.Pattern;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The embedded model: its reported validation loss reproduces, and it writes play-shaped text. */
class ShippedModelTest {
    private static JsonNode reported() throws Exception {
        try (InputStream in = MoaModel.class.getClassLoader().getResourceAsStream(MoaModel.EMBEDDED + "/eval.json")) {
            return new ObjectMapper().readTree(in);
        }
    }

    /** The whole validation split (~2 min): only in the full run, {@code ./mvnw verify -Pfull}. */
    @Test
    @org.junit.jupiter.api.Tag("full")
    void validationLossReproducesTheReportedOne() throws Exception {
        Path text = SharedData.require("data/tinyshakespeare.txt");
        JsonNode r = reported();
        try (MoaModel model = MoaModel.loadEmbedded()) {
            TextData data = TextData.of(Files.readString(text, StandardCharsets.UTF_8),
                    (dev.moaserve.model.CharTokenizer) model.tokenizer(), 0.9);
            Evaluation.Loss loss = Evaluation.generationLoss(model.weights(), data.val(), 512);
            System.out.printf("val loss=%.4f tokens=%d (reported %.4f)%n", loss.loss(), loss.tokens(), r.get("loss").asDouble());
            assertEquals(r.get("tokens").asLong(), loss.tokens());
            assertEquals(r.get("loss").asDouble(), loss.loss(), 0.02);
        }
    }

    /** Three seeded samples of 240 characters each: judged together, as one sample may be one long speech. */
    @Test
    void romeoPromptContinuesLikeAPlay() {
        StringBuilder all = new StringBuilder();
        try (MoaModel model = MoaModel.loadEmbedded();
             IncrementalDecoder dec = new IncrementalDecoder(model.weights(), 1, IncrementalDecoder.Recompute.LAZY)) {
            for (long seed : new long[] {42, 43, 44}) {
                SamplingParams p = SamplingParams.builder().temperature(0.8).topP(0.95).seed(seed).maxTokens(240).build();
                Sampler sampler = new Sampler(p, model.config().numTokens(), seed);
                StringBuilder out = new StringBuilder();
                try (DecodeState s = dec.newState()) {
                    float[] logits = dec.prefill(s, model.tokenizer().encode("ROMEO:"));
                    for (int i = 0; i < 240; i++) {
                        int t = dev.moaserve.engine.HostSampling.next(sampler, logits).token();
                        out.append(model.tokenizer().tokenText(t));
                        logits = dec.decode(List.of(s), new long[] {t})[0];
                    }
                }
                System.out.println("ROMEO:" + out);
                all.append(out).append("\n\n");
            }
        }
        String text = all.toString();
        long letters = text.chars().filter(Character::isLetter).count();
        assertTrue(letters > text.length() * 0.6, "mostly letters: " + text);
        assertTrue(Pattern.compile("(?m)^[A-Z][A-Za-z ]*:$").matcher(text).results().count() >= 2,
                "speaker lines like 'JULIET:' expected (beyond the prompt's): " + text);
        assertTrue(Pattern.compile("\\b(the|and|I|to|you|my|of)\\b").matcher(text).find(), "English words expected");
    }
}
