package dev.moaserve.api;

import dev.moaserve.testing.EmbeddedModel;
import com.openai.client.OpenAIClient;
import com.openai.client.okhttp.OpenAIOkHttpClient;
import com.openai.models.embeddings.CreateEmbeddingResponse;
import com.openai.models.embeddings.EmbeddingCreateParams;
import io.quarkus.test.junit.QuarkusTest;
import io.restassured.http.ContentType;
import io.restassured.response.Response;
import org.eclipse.microprofile.config.inject.ConfigProperty;
import org.junit.jupiter.api.Test;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.Base64;
import java.util.List;

import static io.restassured.RestAssured.given;
import static org.hamcrest.Matchers.containsString;
import static org.hamcrest.Matchers.equalTo;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** POST /v1/embeddings on the embedded (autoregressive) model: OpenAI's shape, its official client, strict input. */
@QuarkusTest
class EmbeddingsApiTest {
    @ConfigProperty(name = "quarkus.http.test-port")
    int port;

    private static Response embed(String body) {
        return given().contentType(ContentType.JSON).body(body).post("/v1/embeddings");
    }

    /** Vector i of an embeddings answer (which must be 200). */
    static float[] vector(Response r, int i) {
        List<Float> v = r.then().statusCode(200).extract().jsonPath().getList("data[" + i + "].embedding", Float.class);
        float[] out = new float[v.size()];
        for (int j = 0; j < out.length; j++) {
            out[j] = v.get(j);
        }
        return out;
    }

    private static double dot(float[] a, float[] b) {
        double s = 0;
        for (int i = 0; i < a.length; i++) {
            s += a[i] * b[i];
        }
        return s;
    }

    @Test
    void vectorsAreUnitLengthDeterministicAndInInputOrder() {
        Response r = embed("{\"input\": [\"To be, or not to be\", \"ROMEO:\", \"To be, or not to be\"], \"model\": \"moa-shakespeare\"}");
        r.then().statusCode(200).body("object", equalTo("list")).body("data[1].index", equalTo(1))
                .body("data[0].object", equalTo("embedding")).body("model", equalTo("moa-shakespeare"))
                .body("usage.prompt_tokens", equalTo(19 + 6 + 19)).body("usage.total_tokens", equalTo(44));
        float[] a = vector(r, 0);
        float[] b = vector(r, 1);
        float[] again = vector(r, 2);
        assertEquals(EmbeddedModel.DIM, a.length, "the model's dim");
        assertEquals(1.0, dot(a, a), 1e-5);
        // to the last bits only: rows of one batch may go through differently blocked matmul kernels
        assertArrayEquals(a, again, 1e-6f, "the same text gives the same vector, wherever it stands in the request");
        assertTrue(dot(a, b) < 0.99, "different texts give different vectors: " + dot(a, b));
        assertArrayEquals(a, vector(embed("{\"input\": \"To be, or not to be\"}"), 0), 1e-6f, "alone = in a request of three");
    }

    @Test
    void tokenIdsAndBase64GiveTheSameVectors() {
        float[] text = vector(embed("{\"input\": \"ROMEO:\"}"), 0);
        List<Integer> ids = given().contentType(ContentType.JSON).body("{\"prompt\": \"ROMEO:\"}").post("/tokenize")
                .then().statusCode(200).extract().jsonPath().getList("tokens", Integer.class);
        assertArrayEquals(text, vector(embed("{\"input\": " + ids + "}"), 0), 1e-6f);
        assertArrayEquals(text, vector(embed("{\"input\": [" + ids + ", " + ids + "]}"), 1), 1e-6f);
        String b64 = embed("{\"input\": \"ROMEO:\", \"encoding_format\": \"base64\"}").then().statusCode(200)
                .extract().path("data[0].embedding");
        ByteBuffer buf = ByteBuffer.wrap(Base64.getDecoder().decode(b64)).order(ByteOrder.LITTLE_ENDIAN);
        float[] decoded = new float[text.length];
        for (int i = 0; i < decoded.length; i++) {
            decoded[i] = buf.getFloat();
        }
        assertArrayEquals(text, decoded);
    }

    @Test
    void theOfficialClientWorksUnchanged() {
        OpenAIClient client = OpenAIOkHttpClient.builder().baseUrl("http://localhost:" + port + "/v1").apiKey("unused")
                .maxRetries(0).build();
        CreateEmbeddingResponse r = client.embeddings().create(EmbeddingCreateParams.builder()
                .model("moa-shakespeare").inputOfArrayOfStrings(List.of("To be, or not to be", "ROMEO:")).build());
        assertEquals(2, r.data().size());
        assertEquals(EmbeddedModel.DIM, r.data().get(0).embedding().size());
        float[] fromClient = new float[EmbeddedModel.DIM];
        for (int i = 0; i < EmbeddedModel.DIM; i++) {
            fromClient[i] = r.data().get(1).embedding().get(i);
        }
        assertArrayEquals(vector(embed("{\"input\": \"ROMEO:\"}"), 0), fromClient, 1e-6f);
        assertEquals(25, r.usage().promptTokens());
    }

    @Test
    void badInputIsA400NamingTheField() {
        embed("{\"input\": []}").then().statusCode(400).body("error.param", equalTo("input"));
        embed("{\"input\": \"\"}").then().statusCode(400).body("error.message", containsString("empty"));
        embed("{\"input\": [\"a\", 3]}").then().statusCode(400).body("error.param", equalTo("input"));
        embed("{\"input\": [1, 99999]}").then().statusCode(400).body("error.message", containsString("out of range"));
        embed("{\"input\": \"x\", \"dimensions\": 64}").then().statusCode(400).body("error.param", equalTo("dimensions"));
        embed("{\"input\": \"x\", \"encoding_format\": \"int8\"}").then().statusCode(400).body("error.param", equalTo("encoding_format"));
        embed("{\"input\": \"x\", \"pooling\": \"cls\"}").then().statusCode(400).body("error.param", equalTo("pooling"));
        embed("{\"input\": \"" + "a".repeat(EmbeddedModel.CONTEXT + 1) + "\"}").then().statusCode(400)
                .body("error.code", equalTo("context_length_exceeded"));
        embed("{\"input\": \"x\", \"dimensions\": " + EmbeddedModel.DIM + "}").then().statusCode(200);
    }
}
