package dev.moaserve.testing;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;

/** A real SSE client for tests: POSTs JSON and parses the event stream (data lines, blank-line separated). */
public final class Sse {
    public static final HttpClient HTTP = HttpClient.newHttpClient();
    private static final ObjectMapper JSON = new ObjectMapper();

    /** One parsed stream: the data payloads in order and the HTTP status. */
    public record Stream(int status, String contentType, List<String> data) {
        public List<JsonNode> json() {
            List<JsonNode> out = new ArrayList<>();
            for (String d : data) {
                if (!d.equals("[DONE]")) {
                    try {
                        out.add(JSON.readTree(d));
                    } catch (IOException e) {
                        throw new AssertionError("not JSON: " + d, e);
                    }
                }
            }
            return out;
        }
    }

    public static HttpResponse<InputStream> open(int port, String path, String body) throws IOException, InterruptedException {
        HttpRequest req = HttpRequest.newBuilder(URI.create("http://localhost:" + port + path))
                .header("Content-Type", "application/json")
                .POST(HttpRequest.BodyPublishers.ofString(body)).build();
        return HTTP.send(req, HttpResponse.BodyHandlers.ofInputStream());
    }

    public static Stream post(int port, String path, String body) throws IOException, InterruptedException {
        return post(port, path, body, d -> { });
    }

    /** As {@link #post(int, String, String)}, handing each data payload to {@code onData} as it arrives. */
    public static Stream post(int port, String path, String body, java.util.function.Consumer<String> onData)
            throws IOException, InterruptedException {
        HttpResponse<InputStream> r = open(port, path, body);
        List<String> data = new ArrayList<>();
        try (BufferedReader in = new BufferedReader(new InputStreamReader(r.body(), StandardCharsets.UTF_8))) {
            StringBuilder event = new StringBuilder();
            String line;
            while ((line = in.readLine()) != null) {
                if (line.isEmpty()) {
                    if (event.length() > 0) {
                        data.add(event.toString());
                        onData.accept(event.toString());
                        event.setLength(0);
                    }
                } else if (line.startsWith("data:")) {
                    if (event.length() > 0) {
                        event.append('\n');
                    }
                    event.append(line.substring(5).stripLeading());
                }
            }
            if (event.length() > 0) {
                data.add(event.toString());
            }
        }
        return new Stream(r.statusCode(), r.headers().firstValue("Content-Type").orElse(""), data);
    }
}
