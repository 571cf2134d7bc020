package dev.moaserve.deploy;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import io.fabric8.kubernetes.api.model.Container;
import io.fabric8.kubernetes.api.model.GenericKubernetesResource;
import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.api.model.apps.Deployment;
import io.fabric8.kubernetes.api.model.autoscaling.v2.HorizontalPodAutoscaler;
import io.fabric8.kubernetes.client.utils.Serialization;
import io.quarkus.test.junit.QuarkusTest;
import org.eclipse.microprofile.config.ConfigProvider;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static io.restassured.RestAssured.given;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Every manifest parses as Kubernetes objects and points at things the running app really has. */
@QuarkusTest
class KubernetesManifestsTest {
    private static final Path K8S = Path.of("k8s");
    private static final ObjectMapper YAML = new ObjectMapper(new YAMLFactory());

    /** Every kustomization (base, components, overlays) names files that exist; components are Components. */
    @Test
    void kustomizationsListExistingFiles() throws IOException {
        List<Path> kustomizations = kustomizations();
        assertTrue(kustomizations.size() >= 11, kustomizations.toString());
        for (Path file : kustomizations) {
            Path k = file.getParent();
            JsonNode kust = YAML.readTree(file.toFile());
            boolean component = k.getParent().getFileName().toString().equals("components");
            assertEquals(component ? "Component" : "Kustomization", kust.path("kind").asText(), file.toString());
            for (String field : List.of("resources", "components")) {
                for (JsonNode r : kust.path(field)) {
                    assertTrue(Files.exists(k.resolve(r.asText())), k + ": " + r.asText());
                }
            }
            for (JsonNode p : kust.path("patches")) {
                assertTrue(p.has("patch") || Files.exists(k.resolve(p.path("path").asText())), k + ": " + p);
            }
        }
    }

    /** Every manifest and patch parses as the Kubernetes object it declares (fabric8's model). */
    @Test
    void everyManifestParses() throws IOException {
        try (var files = Files.walk(K8S)) {
            for (Path f : files.filter(p -> p.toString().endsWith(".yaml")).toList()) {
                String name = f.getFileName().toString();
                if (name.equals("kustomization.yaml") || f.startsWith(K8S.resolve("prometheus-adapter"))) {
                    continue;
                }
                HasMetadata o = load(f, HasMetadata.class);
                assertNotNull(o.getKind(), f.toString());
                String object = o.getMetadata().getName();
                assertTrue(object.equals("moa-serve") || object.startsWith("moa-serve-"), f + ": " + object);
            }
        }
    }

    /**
     * The quickstart needs nothing but a cluster (no CRDs); the own-model example feeds the server
     * the directory its init container fills. Rendered by {@code kubectl kustomize} where kubectl
     * is installed; each overlay's own files are checked above either way.
     */
    @Test
    void overlaysRender() throws Exception {
        Assumptions.assumeTrue(kubectl(), "kubectl not installed: overlays not rendered (each file is still checked)");
        for (Path overlay : List.of(K8S.resolve("base"), K8S.resolve("overlays/quickstart"), K8S.resolve("overlays/quickstart-autoscaling"),
                K8S.resolve("overlays/own-model"), K8S.resolve("overlays/cpu"), K8S.resolve("overlays/gpu"),
                K8S.resolve("overlays/generator-and-encoder"))) {
            List<String> kinds = new ArrayList<>();
            for (HasMetadata o : render(overlay)) {
                kinds.add(o.getKind());
            }
            assertTrue(kinds.containsAll(List.of("ConfigMap", "Service", "Deployment", "PodDisruptionBudget")), overlay + ": " + kinds);
            boolean autoscaled = !overlay.endsWith("base") && !overlay.endsWith("quickstart") && !overlay.endsWith("own-model")
                    && !overlay.endsWith("generator-and-encoder");
            assertEquals(autoscaled, kinds.contains("HorizontalPodAutoscaler"), overlay + ": " + kinds);
            assertEquals(autoscaled, kinds.contains("ServiceMonitor"), overlay + ": " + kinds);
        }
        Deployment d = render(K8S.resolve("overlays/own-model")).stream().filter(Deployment.class::isInstance)
                .map(Deployment.class::cast).findFirst().orElseThrow();
        var pod = d.getSpec().getTemplate().getSpec();
        Container server = pod.getContainers().get(0);
        String modelPath = server.getEnv().stream().filter(e -> e.getName().equals("MOA_MODEL_PATH")).findFirst().orElseThrow().getValue();
        var mount = server.getVolumeMounts().stream().filter(m -> m.getMountPath().equals(modelPath)).findFirst().orElseThrow();
        assertTrue(mount.getReadOnly());
        var init = pod.getInitContainers().get(0);
        assertTrue(init.getVolumeMounts().stream().anyMatch(m -> m.getName().equals(mount.getName())), "the init container fills the server's volume");
        assertTrue(String.join(" ", init.getCommand()).contains(modelPath), init.getCommand().toString());
        assertTrue(server.getReadinessProbe() != null && server.getSecurityContext().getReadOnlyRootFilesystem(), "base settings kept");
    }

    /**
     * The api-keys component gives the server a key file that is a mounted, read-only, required
     * Secret (without it the pod waits rather than serve open); production overlays use it.
     */
    @Test
    void apiKeysComeFromARequiredSecretMountedWhereTheServerLooks() throws Exception {
        Deployment patch = load(K8S.resolve("components/api-keys/api-keys-patch.yaml"), Deployment.class);
        assertKeyFileFromSecret(patch);
        for (String overlay : List.of("cpu", "gpu")) {
            JsonNode kust = YAML.readTree(K8S.resolve("overlays/" + overlay + "/kustomization.yaml").toFile());
            assertTrue(kust.path("components").toString().contains("components/api-keys"), overlay);
        }
        Assumptions.assumeTrue(kubectl(), "kubectl not installed: the rendered overlay is not checked");
        Deployment cpu = render(K8S.resolve("overlays/cpu")).stream().filter(Deployment.class::isInstance)
                .map(Deployment.class::cast).findFirst().orElseThrow();
        assertKeyFileFromSecret(cpu);
        assertTrue(cpu.getSpec().getTemplate().getSpec().getContainers().get(0).getVolumeMounts().stream()
                .anyMatch(m -> m.getMountPath().equals("/tmp")), "base mounts kept");
    }

    /**
     * The inference-gateway component: an InferencePool (inference.networking.k8s.io/v1) selecting the
     * pods k8s/base labels, on the port the app listens on, with its endpoint picker; an HTTPRoute
     * (Gateway API, fabric8's typed model: no unknown fields) sending /v1/ to the pool; the picker's
     * config scoring on what the server exports. The InferencePool is checked against the v1 API's
     * rules by hand (no CRD schema is vendored here).
     */
    @Test
    void inferenceGatewayComponentPointsAtTheServer() throws Exception {
        Path c = K8S.resolve("components/inference-gateway");
        JsonNode pool = YAML.readTree(c.resolve("inferencepool.yaml").toFile());
        assertEquals("inference.networking.k8s.io/v1", pool.path("apiVersion").asText());
        assertEquals("InferencePool", pool.path("kind").asText());
        JsonNode spec = pool.path("spec");
        for (var f = spec.fieldNames(); f.hasNext(); ) {
            String field = f.next();
            assertTrue(List.of("selector", "targetPorts", "endpointPickerRef", "appProtocol").contains(field), "InferencePool spec." + field);
        }
        Deployment base = load(K8S.resolve("base/deployment.yaml"), Deployment.class);
        JsonNode baseKust = YAML.readTree(K8S.resolve("base/kustomization.yaml").toFile());
        var labels = new java.util.HashMap<String, String>();
        baseKust.path("labels").forEach(l -> l.path("pairs").fields().forEachRemaining(e -> labels.put(e.getKey(), e.getValue().asText())));
        spec.path("selector").path("matchLabels").fields().forEachRemaining(e ->
                assertEquals(labels.get(e.getKey()), e.getValue().asText(), "the pool selects the server pods: " + e.getKey()));
        assertFalse(spec.path("selector").path("matchLabels").isEmpty());
        int port = base.getSpec().getTemplate().getSpec().getContainers().get(0).getPorts().get(0).getContainerPort();
        assertEquals(1, spec.path("targetPorts").size());
        assertEquals(port, spec.path("targetPorts").get(0).path("number").asInt(), "targetPorts = the server's port");
        JsonNode epp = spec.path("endpointPickerRef");
        assertFalse(epp.path("name").asText().isEmpty());
        int eppPort = epp.path("port").path("number").asInt();
        assertTrue(eppPort > 0 && eppPort < 65536);
        assertTrue(List.of("FailOpen", "FailClose").contains(epp.path("failureMode").asText()), epp.toString());

        io.fabric8.kubernetes.api.model.gatewayapi.v1.HTTPRoute route =
                load(c.resolve("httproute.yaml"), io.fabric8.kubernetes.api.model.gatewayapi.v1.HTTPRoute.class);
        assertTrue(route.getAdditionalProperties().isEmpty() && route.getSpec().getAdditionalProperties().isEmpty(), route.toString());
        var backend = route.getSpec().getRules().get(0).getBackendRefs().get(0);
        assertEquals("InferencePool", backend.getKind());
        assertEquals("inference.networking.k8s.io", backend.getGroup());
        assertEquals(pool.path("metadata").path("name").asText(), backend.getName());

        io.fabric8.kubernetes.api.model.ConfigMap config = load(c.resolve("epp-config.yaml"), io.fabric8.kubernetes.api.model.ConfigMap.class);
        JsonNode picker = YAML.readTree(config.getData().get("config.yaml"));
        assertEquals("EndpointPickerConfig", picker.path("kind").asText());
        assertTrue(picker.toString().contains("kv-cache-utilization-scorer") && picker.toString().contains("queue-scorer"));
        // what those scorers read, the server exports under vLLM's names (InferenceGatewayMetricsTest)
        String metrics = given().get("/metrics").then().statusCode(200).extract().asString();
        for (String m : List.of("vllm:num_requests_waiting", "vllm:num_requests_running", "vllm:kv_cache_usage_perc")) {
            assertTrue(metrics.contains("# TYPE " + m + " gauge"), m);
        }
        if (kubectl()) {
            Path overlay = Files.createTempDirectory(Path.of("target"), "inference-gateway-overlay");
            Files.writeString(overlay.resolve("kustomization.yaml"), "apiVersion: kustomize.config.k8s.io/v1beta1\n"
                    + "kind: Kustomization\nresources:\n  - ../../k8s/base\ncomponents:\n  - ../../k8s/components/inference-gateway\n");
            List<String> kinds = render(overlay).stream().map(HasMetadata::getKind).toList();
            assertTrue(kinds.containsAll(List.of("InferencePool", "HTTPRoute", "Deployment")), kinds.toString());
        }
    }

    private static void assertKeyFileFromSecret(Deployment d) {
        var pod = d.getSpec().getTemplate().getSpec();
        Container server = pod.getContainers().get(0);
        String file = server.getEnv().stream().filter(e -> e.getName().equals("MOA_API_KEYS_FILE")).findFirst()
                .orElseThrow().getValue();
        var mount = server.getVolumeMounts().stream().filter(m -> file.startsWith(m.getMountPath() + "/")).findFirst()
                .orElseThrow(() -> new AssertionError(file + " is in no mount"));
        assertTrue(mount.getReadOnly(), "read-only mount");
        var volume = pod.getVolumes().stream().filter(v -> v.getName().equals(mount.getName())).findFirst().orElseThrow();
        assertNotNull(volume.getSecret(), "the keys come from a Secret");
        assertFalse(Boolean.TRUE.equals(volume.getSecret().getOptional()), "a missing Secret must not start an open server");
    }

    private static List<Path> kustomizations() throws IOException {
        try (var files = Files.walk(K8S)) {
            return files.filter(p -> p.getFileName().toString().equals("kustomization.yaml")).sorted().toList();
        }
    }

    private static boolean kubectl() {
        try {
            return new ProcessBuilder("kubectl", "version", "--client").redirectErrorStream(true).start().waitFor() == 0;
        } catch (IOException | InterruptedException e) {
            return false;
        }
    }

    private static List<HasMetadata> render(Path kustomization) throws Exception {
        Process p = new ProcessBuilder("kubectl", "kustomize", kustomization.toString()).redirectErrorStream(true).start();
        String yaml = new String(p.getInputStream().readAllBytes(), java.nio.charset.StandardCharsets.UTF_8);
        assertEquals(0, p.waitFor(), kustomization + ":\n" + yaml);
        List<HasMetadata> out = new ArrayList<>();
        for (String doc : yaml.split("(?m)^---$")) {
            if (!doc.isBlank()) {
                out.add(Serialization.unmarshal(doc, HasMetadata.class));
            }
        }
        return out;
    }

    @Test
    void probesAndPortsMatchTheApplication() throws IOException {
        Deployment d = load(K8S.resolve("base/deployment.yaml"), Deployment.class);
        Container c = d.getSpec().getTemplate().getSpec().getContainers().get(0);
        // the port the application is configured with (tests themselves run on a random port)
        java.util.Properties app = new java.util.Properties();
        try (InputStream in = Files.newInputStream(Path.of("src/main/resources/application.properties"))) {
            app.load(in);
        }
        int port = Integer.parseInt(app.getProperty("quarkus.http.port"));
        assertEquals(port, c.getPorts().get(0).getContainerPort());
        for (io.fabric8.kubernetes.api.model.Probe probe : List.of(c.getStartupProbe(), c.getReadinessProbe(), c.getLivenessProbe())) {
            given().get(probe.getHttpGet().getPath()).then().statusCode(200);
            // by number: podman kube play turns a named port in a probe into port 0
            assertEquals(port, probe.getHttpGet().getPort().getIntVal(), "probe port of " + probe.getHttpGet().getPath());
        }
        assertTrue(c.getSecurityContext().getReadOnlyRootFilesystem());
        assertTrue(d.getSpec().getTemplate().getSpec().getSecurityContext().getRunAsNonRoot());
        long grace = ConfigProvider.getConfig().getValue("moa.shutdown-grace", java.time.Duration.class).toSeconds();
        assertTrue(d.getSpec().getTemplate().getSpec().getTerminationGracePeriodSeconds() > grace,
                "terminationGracePeriodSeconds must exceed moa.shutdown-grace");
        HasMetadata gpu = load(K8S.resolve("overlays/gpu/gpu-patch.yaml"), Deployment.class);
        assertNotNull(gpu);
    }

    @Test
    void autoscalersUseMetricsTheServerExports() throws IOException {
        given().contentType("application/json").body("{\"prompt\":\"A\",\"max_tokens\":2}").post("/v1/completions");
        String metrics = given().get("/q/metrics").then().statusCode(200).extract().asString();
        HorizontalPodAutoscaler hpa = load(K8S.resolve("components/autoscaling/hpa.yaml"), HorizontalPodAutoscaler.class);
        List<String> names = new ArrayList<>();
        hpa.getSpec().getMetrics().forEach(m -> names.add(m.getPods().getMetric().getName()));
        GenericKubernetesResource keda = load(K8S.resolve("keda/scaledobject.yaml"), GenericKubernetesResource.class);
        assertEquals("ScaledObject", keda.getKind());
        Pattern metric = Pattern.compile("\\b(moa_[a-z_]+)\\b");
        for (Object t : (List<?>) ((java.util.Map<?, ?>) keda.getAdditionalProperties().get("spec")).get("triggers")) {
            String query = (String) ((java.util.Map<?, ?>) ((java.util.Map<?, ?>) t).get("metadata")).get("query");
            Matcher mm = metric.matcher(query);
            while (mm.find()) {
                names.add(mm.group(1));
            }
        }
        assertFalse(names.isEmpty());
        for (String n : names) {
            assertTrue(Pattern.compile("(?m)^" + n + "[ {]").matcher(metrics).find(), n + " is not in /q/metrics");
        }
        // prometheus-adapter serves every HPA metric, from a series the server exports
        JsonNode rules = YAML.readTree(K8S.resolve("prometheus-adapter/values.yaml").toFile()).path("rules").path("custom");
        List<String> served = new ArrayList<>();
        for (JsonNode r : rules) {
            served.add(r.path("name").path("as").asText());
            Matcher series = metric.matcher(r.path("seriesQuery").asText());
            assertTrue(series.find() && Pattern.compile("(?m)^" + series.group(1) + "[ {]").matcher(metrics).find(), r.toString());
        }
        hpa.getSpec().getMetrics().forEach(m -> assertTrue(served.contains(m.getPods().getMetric().getName()),
                m.getPods().getMetric().getName() + " has no prometheus-adapter rule"));
        GenericKubernetesResource sm = load(K8S.resolve("components/monitoring/servicemonitor.yaml"), GenericKubernetesResource.class);
        assertEquals("ServiceMonitor", sm.getKind());
    }

    private static <T> T load(Path p, Class<T> type) throws IOException {
        try (InputStream in = Files.newInputStream(p)) {
            return Serialization.unmarshal(in, type);
        }
    }
}
