package dev.moaserve.train;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.moaserve.SharedData;
import dev.moaserve.model.CharTokenizer;
import dev.moaserve.model.EncoderModel;
import org.junit.jupiter.api.Test;

import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The shipped encoder: its reported masked-character loss and retrieval figures reproduce on the
 * validation split, and its embeddings retrieve better than bag-of-characters vectors do.
 */
class ShippedEncoderTest {
    private static JsonNode reported() throws Exception {
        try (InputStream in = EncoderModel.class.getClassLoader().getResourceAsStream(EncoderModel.EMBEDDED + "/eval.json")) {
            return new ObjectMapper().readTree(in);
        }
    }

    private static int[] validation(EncoderModel e) throws Exception {
        String text = Files.readString(SharedData.require("data/tinyshakespeare.txt"), StandardCharsets.UTF_8);
        return TextData.of(text, (CharTokenizer) e.tokenizer(), 0.9).val();
    }

    @Test
    void maskedCharacterLossReproducesTheReportedOne() throws Exception {
        JsonNode r = reported();
        try (EncoderModel e = EncoderModel.loadEmbedded(ai.djl.Device.cpu())) {
            EncoderEvaluation.MaskedLoss loss = EncoderEvaluation.maskedLoss(e.weights(), validation(e),
                    e.tokenizer().vocabSize(), 1);
            System.out.printf("masked-char loss=%.4f tokens=%d (reported %.4f)%n", loss.loss(), loss.tokens(),
                    r.get("masked_char_loss").asDouble());
            assertEquals(r.get("tokens").asLong(), loss.tokens());
            assertEquals(r.get("masked_char_loss").asDouble(), loss.loss(), 1e-3);
        }
    }

    @Test
    void embeddingsRetrieveBetterThanBagOfCharacters() throws Exception {
        JsonNode r = reported().get("retrieval");
        try (EncoderModel e = EncoderModel.loadEmbedded(ai.djl.Device.cpu())) {
            int[] val = validation(e);
            int half = r.get("half_tokens").asInt();
            EncoderEvaluation.Retrieval emb = EncoderEvaluation.byEmbeddings(e.weights(), val, half);
            EncoderEvaluation.Retrieval boc = EncoderEvaluation.byCharacterCounts(val, half,
                    e.weights().config().shape().numTokens());
            System.out.println("embeddings " + emb + "\nbag of characters " + boc);
            assertEquals(r.get("passages").asInt(), emb.passages());
            assertEquals(r.get("embeddings_mrr").asDouble(), emb.mrr(), 2e-3);    // reported to 3 decimals
            assertEquals(r.get("bag_of_characters_mrr").asDouble(), boc.mrr(), 1e-3);
            assertTrue(emb.mrr() > 1.5 * boc.mrr(), emb + " vs " + boc);
            assertTrue(emb.recall10() > 2 * boc.recall10(), emb + " vs " + boc);
        }
    }
}
