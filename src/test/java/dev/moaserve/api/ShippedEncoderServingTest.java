package dev.moaserve.api;

import com.openai.client.OpenAIClient;
import com.openai.client.okhttp.OpenAIOkHttpClient;
import com.openai.models.embeddings.CreateEmbeddingResponse;
import com.openai.models.embeddings.EmbeddingCreateParams;
import dev.moaserve.engine.Embedder;
import dev.moaserve.model.EncoderModel;
import io.quarkus.test.junit.QuarkusTest;
import io.quarkus.test.junit.QuarkusTestProfile;
import io.quarkus.test.junit.TestProfile;
import io.restassured.http.ContentType;
import org.eclipse.microprofile.config.inject.ConfigProperty;
import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.Map;

import static io.restassured.RestAssured.given;
import static org.hamcrest.Matchers.equalTo;
import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * The shipped encoder served by its name ({@code moa.model-path=moa-shakespeare-encoder}): the
 * official client gets the vectors that the retrieval evaluation measured (same pooling, same
 * normalisation), and the model card names it.
 */
@QuarkusTest
@TestProfile(ShippedEncoderServingTest.Shipped.class)
class ShippedEncoderServingTest {
    public static class Shipped implements QuarkusTestProfile {
        @Override
        public Map<String, String> getConfigOverrides() {
            return Map.of("moa.model-path", EncoderModel.EMBEDDED_NAME);
        }
    }

    @ConfigProperty(name = "quarkus.http.test-port")
    int port;

    @Test
    void theOfficialClientGetsTheEvaluatedVectors() throws Exception {
        List<String> lines = List.of("First Citizen:\nBefore we proceed any further, hear me speak.",
                "ROMEO:\nBut, soft! what light through yonder window breaks?");
        OpenAIClient client = OpenAIOkHttpClient.builder().baseUrl("http://localhost:" + port + "/v1").apiKey("unused")
                .maxRetries(0).build();
        CreateEmbeddingResponse r = client.embeddings().create(EmbeddingCreateParams.builder()
                .model(EncoderModel.EMBEDDED_NAME).inputOfArrayOfStrings(lines).build());
        assertEquals(lines.get(0).length() + lines.get(1).length(), r.usage().promptTokens());
        try (EncoderModel e = EncoderModel.loadEmbedded(ai.djl.Device.cpu());
             Embedder direct = Embedder.of(e.weights(), Embedder.Limits.single(8192))) {
            List<long[]> ids = lines.stream().map(s -> e.tokenizer().encode(s)).toList();
            float[][] expected = direct.submit("test", ids).result().get();
            for (int i = 0; i < lines.size(); i++) {
                List<Float> got = r.data().get(i).embedding();
                assertEquals(e.weights().config().dim(), got.size());
                for (int j = 0; j < got.size(); j++) {
                    assertEquals(expected[i][j], got.get(j), 1e-5, "input " + i + " dimension " + j);
                }
            }
        }
    }

    @Test
    void theModelCardNamesTheShippedEncoder() {
        given().get("/v1/models").then().statusCode(200).body("data[0].id", equalTo(EncoderModel.EMBEDDED_NAME))
                .body("data[0].max_model_len", equalTo(256));
        given().contentType(ContentType.JSON).body("{\"prompt\": \"ROMEO:\", \"max_tokens\": 4}").post("/v1/completions")
                .then().statusCode(400).body("error.code", equalTo("model_not_generative"));
    }
}
