package dev.moaserve.api;

import dev.moaserve.testing.Sse;
import io.quarkus.test.junit.QuarkusTest;
import io.quarkus.test.junit.QuarkusTestProfile;
import io.quarkus.test.junit.TestProfile;
import io.vertx.core.http.HttpMethod;
import io.vertx.ext.web.Route;
import org.eclipse.microprofile.config.inject.ConfigProperty;
import org.junit.jupiter.api.Test;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.net.Socket;
import java.net.URI;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * With API keys set, no route is reachable without one, however its path is spelled: every route
 * the router holds (read from it, not typed here) and every method it answers, under many
 * spellings, over a raw socket and through an HTTP client. A 401, 404 or 405 is the only answer;
 * a 2xx or a validation error would show that the route ran.
 */
@QuarkusTest
@TestProfile(ApiKeyEnforcementTest.Keys.class)
class ApiKeyEnforcementTest {
    static final Path KEY_FILE;

    static {
        try {
            KEY_FILE = Files.createTempFile("moa-api-keys", ".txt");
            Files.writeString(KEY_FILE, "# rotated monthly\n\n  file-key-1  \n");
            KEY_FILE.toFile().deleteOnExit();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    public static class Keys implements QuarkusTestProfile {
        @Override
        public Map<String, String> getConfigOverrides() {
            return Map.of("moa.api-keys", "inline-key", "moa.api-keys-file", KEY_FILE.toString());
        }
    }

    /** A body every generation route would accept, so a route that ran answers 200, not 4xx. */
    private static final String BODY = "{\"prompt\":\"A\",\"max_tokens\":1}";

    @ConfigProperty(name = "quarkus.http.test-port")
    int port;

    @Test
    void noSpellingOfAnyRouteIsReachableWithoutAKey() throws Exception {
        List<String[]> targets = targets();
        assertTrue(targets.size() > 300, "too few cases: " + targets.size());
        List<String> failures = new ArrayList<>();
        Map<String, Integer> bypassed = new java.util.TreeMap<>(); // route → spellings that got past
        Set<String> statuses = new TreeSet<>();
        int sent = 0;
        for (String[] t : targets) {
            String method = t[0];
            String path = t[1];
            if (isOpen(method, path)) {
                continue;
            }
            int before = failures.size();
            Answer raw = raw(method, path, null);
            sent++;
            check("raw " + method + " " + path, raw, failures, statuses);
            Answer absolute = raw(method, "http://localhost:" + port + path, null);
            check("raw absolute-form " + method + " " + path, absolute, failures, statuses);
            Answer client = client(method, path, null);
            if (client != null) {
                check("client " + method + " " + path, client, failures, statuses);
            }
            if (failures.size() > before) {
                bypassed.merge(method + " " + t[2], 1, Integer::sum);
            }
        }
        assertTrue(failures.isEmpty(), failures.size() + " answers to " + sent + " spellings got past the key check; "
                + "per route: " + bypassed + "\n" + String.join("\n", failures.subList(0, Math.min(40, failures.size()))));
        assertTrue(statuses.contains("401"), statuses.toString());
        System.out.println("api keys: " + sent + " spellings × 3 transports, answers " + statuses);
    }

    private static void check(String what, Answer a, List<String> failures, Set<String> statuses) {
        statuses.add(String.valueOf(a.status));
        if (a.status != 401 && a.status != 404 && a.status != 405 && a.status != 400) {
            failures.add(what + " → " + a.status + " " + a.head(160));
        } else if (a.status == 400 && a.body.contains("\"error\"")) {
            // Vert.x refuses a malformed request target itself (no JSON); a JSON 400 is a route's
            failures.add(what + " → a route's 400: " + a.head(160));
        } else if (a.status == 401 && !a.header("www-authenticate").startsWith("Bearer")) {
            failures.add(what + " → 401 without WWW-Authenticate: Bearer");
        }
    }

    @Test
    void anthropicsClientsSendTheirKeyAsXApiKey() {
        String body = "{\"model\":\"moa-shakespeare\",\"max_tokens\":2,\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}";
        io.restassured.RestAssured.given().contentType(io.restassured.http.ContentType.JSON).header("x-api-key", "file-key-1")
                .body(body).post("/v1/messages").then().statusCode(200);
        io.restassured.RestAssured.given().contentType(io.restassured.http.ContentType.JSON).header("x-api-key", "wrong")
                .body(body).post("/v1/messages").then().statusCode(401)
                .body("type", org.hamcrest.Matchers.equalTo("error"))
                .body("error.type", org.hamcrest.Matchers.equalTo("authentication_error"));
    }

    @Test
    void openEndpointsStayOpen() throws Exception {
        for (String path : List.of("/q/health/live", "/q/health/ready", "/q/health/started", "/q/health", "/health",
                "/v1/health", "/", "/index.html", "/playground.js", "/playground.css", "/metrics", "/q/metrics")) {
            Answer a = raw("GET", path, null);
            assertEquals(200, a.status, path + ": " + a.head(200));
            assertEquals(200, raw("HEAD", path, null).status, "HEAD " + path);
        }
        // an open path spelled otherwise is not open: it fails closed
        assertEquals(401, raw("GET", "/q/health/ready/", null).status);
        assertEquals(401, raw("POST", "/health", null).status);
    }

    @Test
    void keysFromThePropertyAndTheFileWorkWithAnyCaseOfTheScheme() throws Exception {
        for (String auth : List.of("Bearer inline-key", "bearer inline-key", "BEARER file-key-1", "bEaReR   file-key-1",
                "Bearer file-key-1 ")) {
            Answer models = raw("GET", "/v1/models", auth);
            assertEquals(200, models.status, auth + ": " + models.head(200));
            Answer gen = raw("POST", "/generate", auth);
            assertEquals(422, gen.status, "the route ran: " + gen.head(200)); // TGI wants inputs, not prompt
            Answer done = raw("POST", "/v1/completions", auth);
            assertEquals(200, done.status, done.head(200));
        }
        for (String auth : List.of("Bearer wrong", "Bearer inline-key2", "Bearer file-key", "Basic aW5saW5lLWtleQ==",
                "inline-key", "Bearer", "Token inline-key", "Bearer # rotated monthly")) {
            Answer a = raw("GET", "/v1/models", auth);
            assertEquals(401, a.status, auth);
            assertTrue(a.body.contains("invalid_api_key"), a.body);
        }
        Answer wrong = raw("GET", "/v1/models", "Bearer wrong");
        assertTrue(wrong.header("www-authenticate").contains("error=\"invalid_token\""), wrong.head(300));
        Answer tgi = raw("POST", "/generate_stream/", null);
        assertTrue(tgi.body.contains("\"error_type\":\"authentication\""), "TGI's error shape: " + tgi.body);
        Answer openAi = raw("POST", "/v1/chat/completions/", null);
        assertTrue(openAi.body.contains("\"code\":\"invalid_api_key\""), "OpenAI's error shape: " + openAi.body);
    }

    /** (method, raw path, route path) for every spelling of every route the router holds. */
    private List<String[]> targets() {
        assertTrue(RouterCapture.router != null, "the router was not captured");
        Set<String> paths = new TreeSet<>();
        List<String[]> out = new ArrayList<>();
        Set<String> seen = new TreeSet<>();
        for (Route r : RouterCapture.router.getRoutes()) {
            String path = r.getPath();
            // catch-all routes (filters, static files): some paths only they answer
            List<String> concrete = path == null ? List.of("/", "/index.html", "/playground.js", "/anything")
                    : path.endsWith("/") && path.length() > 1 ? mounted(path)
                    : List.of(path.replace(":id", "moa-shakespeare").replaceAll(":[A-Za-z]+", "x").replace("*", "x"));
            Set<HttpMethod> methods = r.methods() == null || r.methods().isEmpty()
                    ? Set.of(HttpMethod.GET, HttpMethod.POST) : r.methods();
            for (String p : concrete) {
                paths.add(p);
                for (HttpMethod m : methods) {
                    for (String spelling : Spellings.of(p)) {
                        if (seen.add(m.name() + " " + spelling)) {
                            out.add(new String[] {m.name(), spelling, p});
                        }
                    }
                }
            }
        }
        for (String must : List.of("/v1/completions", "/v1/chat/completions", "/generate", "/generate_stream",
                "/tokenize", "/detokenize", "/v1/models", "/v1/models/moa-shakespeare", "/v1/models/load", "/v1/models/unload")) {
            assertTrue(paths.contains(must), "the router has no " + must + ": " + paths);
        }
        System.out.println("api keys: routes read from the router: " + paths);
        return out;
    }

    /**
     * A sub-router mounted at {@code prefix} (Quarkus' {@code /q/}) does not show its routes through
     * Vert.x' API: the endpoints Quarkus extensions put there, and one it does not have.
     */
    private static List<String> mounted(String prefix) {
        return List.of("health", "health/live", "health/ready", "health/started", "health/group", "health/well",
                "metrics", "info", "openapi", "dev-ui", "swagger-ui", "anything").stream().map(p -> prefix + p).toList();
    }

    /** An open endpoint spelled exactly, perhaps with a query or fragment (not part of the path). */
    private static boolean isOpen(String method, String target) {
        String path = target.replaceFirst("[?#].*", "");
        return (method.equals("GET") || method.equals("HEAD"))
                && (AuthFilter.OPEN.contains(path) || AuthFilter.METRICS.contains(path));
    }

    record Answer(int status, String headers, String body) {
        String head(int n) {
            String s = headers + "\n" + body;
            return s.substring(0, Math.min(n, s.length())).replace("\r\n", " | ");
        }

        String header(String name) {
            for (String line : headers.split("\r\n")) {
                int colon = line.indexOf(':');
                if (colon > 0 && line.substring(0, colon).trim().equalsIgnoreCase(name)) {
                    return line.substring(colon + 1).trim();
                }
            }
            return "";
        }
    }

    /** One request over a plain socket, the target written byte for byte as given. */
    private Answer raw(String method, String target, String authorization) throws IOException {
        byte[] body = method.equals("GET") || method.equals("HEAD") ? new byte[0] : BODY.getBytes(StandardCharsets.UTF_8);
        StringBuilder req = new StringBuilder(method).append(' ').append(target).append(" HTTP/1.1\r\n")
                .append("Host: localhost:").append(port).append("\r\n")
                .append("Content-Type: application/json\r\nConnection: close\r\n");
        if (authorization != null) {
            req.append("Authorization: ").append(authorization).append("\r\n");
        }
        if (body.length > 0) {
            req.append("Content-Length: ").append(body.length).append("\r\n");
        }
        req.append("\r\n");
        try (Socket s = new Socket("localhost", port)) {
            s.setSoTimeout(30_000);
            OutputStream out = s.getOutputStream();
            out.write(req.toString().getBytes(StandardCharsets.ISO_8859_1));
            out.write(body);
            out.flush();
            InputStream in = s.getInputStream();
            ByteArrayOutputStream all = new ByteArrayOutputStream();
            in.transferTo(all);
            String text = all.toString(StandardCharsets.UTF_8);
            int split = text.indexOf("\r\n\r\n");
            String headers = split < 0 ? text : text.substring(0, split);
            String rest = split < 0 ? "" : text.substring(split + 4);
            int status = Integer.parseInt(headers.substring(9, 12));
            return new Answer(status, headers, rest);
        }
    }

    /** The same through Java's HTTP client; null for a target it cannot express as a URI. */
    private Answer client(String method, String target, String authorization) throws Exception {
        URI uri;
        try {
            uri = URI.create("http://localhost:" + port + target);
        } catch (IllegalArgumentException notAUri) {
            return null;
        }
        HttpRequest.BodyPublisher body = method.equals("GET") || method.equals("HEAD")
                ? HttpRequest.BodyPublishers.noBody() : HttpRequest.BodyPublishers.ofString(BODY);
        HttpRequest.Builder b = HttpRequest.newBuilder(uri).timeout(Duration.ofSeconds(30))
                .header("Content-Type", "application/json").method(method, body);
        if (authorization != null) {
            b.header("Authorization", authorization);
        }
        HttpResponse<String> r = Sse.HTTP.send(b.build(), HttpResponse.BodyHandlers.ofString());
        StringBuilder h = new StringBuilder();
        r.headers().map().forEach((k, v) -> h.append(k).append(": ").append(String.join(",", v)).append("\r\n"));
        return new Answer(r.statusCode(), h.toString(), r.body());
    }
}
