package dev.moaserve.api;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.moaserve.model.Safetensors;
import io.quarkus.test.junit.QuarkusTest;
import io.quarkus.test.junit.QuarkusTestProfile;
import io.quarkus.test.junit.TestProfile;
import io.restassured.http.ContentType;
import io.restassured.response.Response;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.URISyntaxException;
import java.nio.FloatBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.Arrays;
import java.util.List;
import java.util.Map;

import static io.restassured.RestAssured.given;
import static org.hamcrest.Matchers.containsString;
import static org.hamcrest.Matchers.equalTo;
import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * A MoA encoder served: /v1/embeddings gives the mean of the PyTorch reference's output vectors
 * (test resource encoder/local, made by docs/encoder/make_encoder_reference.py), L2-normalised;
 * the generation routes answer that the model does not generate.
 */
@QuarkusTest
@TestProfile(EncoderServingTest.Encoder.class)
class EncoderServingTest {
    /** The reference case "local" (40 tokens) with a 40-character vocabulary beside it. */
    public static class Encoder implements QuarkusTestProfile {
        @Override
        public Map<String, String> getConfigOverrides() {
            return Map.of("moa.model-path", dir().toAbsolutePath().toString());
        }
    }

    static final String CHARS = "abcdefghijklmnopqrstuvwxyz .,;:!?'\n-ABCD";

    static Path reference() {
        try {
            return Path.of(EncoderServingTest.class.getResource("/encoder/local/config.json").toURI()).getParent();
        } catch (URISyntaxException e) {
            throw new IllegalStateException(e);
        }
    }

    static Path dir() {
        Path d = Path.of("target", "encoder-test");
        try {
            Files.createDirectories(d);
            for (String f : List.of("config.json", "model.safetensors")) {
                Files.copy(reference().resolve(f), d.resolve(f), StandardCopyOption.REPLACE_EXISTING);
            }
            Files.writeString(d.resolve("vocab.json"), new ObjectMapper().writeValueAsString(Map.of("type", "char", "chars", CHARS)));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return d;
    }

    private static Response post(String path, String body) {
        return given().contentType(ContentType.JSON).body(body).post(path);
    }

    private static float[] vector(Response r, int i) {
        return EmbeddingsApiTest.vector(r, i);
    }

    @Test
    void embeddingsAreTheMeanOfTheReferenceOutputs() throws IOException {
        Safetensors vectors = Safetensors.open(reference().resolve("vectors.safetensors"));
        long[] tokens = vectors.longs("tokens");
        long[] shape = vectors.entry("output").shape();
        int n = (int) shape[1], d = (int) shape[2];
        FloatBuffer out = vectors.floats("output");
        StringBuilder inputs = new StringBuilder("[");
        int[] lengths = dev.moaserve.cli.EncoderVerify.lengths(vectors, "mask");
        for (int b = 0; b < lengths.length; b++) {
            inputs.append(b == 0 ? "" : ", ").append(Arrays.toString(Arrays.copyOfRange(tokens, b * n, b * n + lengths[b])));
        }
        Response r = post("/v1/embeddings", "{\"input\": " + inputs.append("]") + "}");
        r.then().statusCode(200).body("usage.prompt_tokens", equalTo(Arrays.stream(lengths).sum()))
                .body("model", equalTo("encoder-test"));
        for (int b = 0; b < lengths.length; b++) {
            double[] mean = new double[d];
            for (int t = 0; t < lengths[b]; t++) {
                for (int j = 0; j < d; j++) {
                    mean[j] += out.get((b * n + t) * d + j) / lengths[b];
                }
            }
            double norm = Math.sqrt(Arrays.stream(mean).map(x -> x * x).sum());
            float[] got = vector(r, b);
            assertEquals(d, got.length);
            for (int j = 0; j < d; j++) {
                assertEquals(mean[j] / norm, got[j], 1e-4, "input " + b + " dimension " + j);
            }
        }
    }

    @Test
    void textInputsAndTheModelCard() {
        float[] v = vector(post("/v1/embeddings", "{\"input\": \"a quick test\", \"model\": \"encoder-test\"}"), 0);
        assertEquals(32, v.length);
        given().get("/v1/models").then().statusCode(200).body("data[0].id", equalTo("encoder-test"))
                .body("data[0].max_model_len", equalTo(64));
        given().get("/health").then().statusCode(200);
    }

    @Test
    void teiEmbedGivesTheSameVectors() {
        float[] openAi = vector(post("/v1/embeddings", "{\"input\": \"a quick test\"}"), 0);
        List<List<Float>> tei = post("/embed", "{\"inputs\": [\"abc\", \"a quick test\"]}").then().statusCode(200)
                .extract().jsonPath().getList("$");
        assertEquals(2, tei.size());
        for (int j = 0; j < openAi.length; j++) {
            assertEquals(openAi[j], tei.get(1).get(j), 1e-6);
        }
        post("/embed", "{\"inputs\": 5}").then().statusCode(422).body("error_type", equalTo("validation"));
        post("/embed", "{\"inputs\": \"abc\", \"normalize\": false}").then().statusCode(422)
                .body("error", containsString("normalize"));
    }

    @Test
    void generationRoutesSayTheModelDoesNotGenerate() {
        post("/v1/completions", "{\"prompt\": \"abc\", \"max_tokens\": 2}").then().statusCode(400)
                .body("error.code", equalTo("model_not_generative")).body("error.message", containsString("/v1/embeddings"));
        post("/v1/chat/completions", "{\"messages\": [{\"role\": \"user\", \"content\": \"hi\"}]}").then().statusCode(400)
                .body("error.code", equalTo("model_not_generative"));
        post("/generate", "{\"inputs\": \"abc\"}").then().statusCode(422).body("error_type", equalTo("validation"));
    }
}
