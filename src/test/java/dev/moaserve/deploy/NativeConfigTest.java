package dev.moaserve.deploy;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.junit.jupiter.api.Test;
import org.w3c.dom.Element;
import org.w3c.dom.NodeList;

import javax.xml.parsers.DocumentBuilderFactory;
import java.io.IOException;
import java.nio.file.FileSystems;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.PathMatcher;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * What can be checked of the native-image build without building it (no GraalVM/Mandrel or
 * container engine here): the native profile builds in the Mandrel container, every resource
 * include matches files that exist, every class the run-time-initialisation list and the JNI
 * configuration name exists with the members they name.
 */
class NativeConfigTest {
    private static final Path RESOURCES = Path.of("src/main/resources");

    @Test
    void nativeProfileBuildsInTheMandrelContainer() throws Exception {
        var doc = DocumentBuilderFactory.newInstance().newDocumentBuilder().parse(Path.of("pom.xml").toFile());
        NodeList profiles = doc.getElementsByTagName("profile");
        Map<String, String> props = null;
        for (int i = 0; i < profiles.getLength(); i++) {
            Element p = (Element) profiles.item(i);
            if ("native".equals(p.getElementsByTagName("id").item(0).getTextContent())) {
                props = new HashMap<>();
                NodeList children = ((Element) p.getElementsByTagName("properties").item(0)).getChildNodes();
                for (int j = 0; j < children.getLength(); j++) {
                    if (children.item(j) instanceof Element e) {
                        props.put(e.getTagName(), e.getTextContent().trim());
                    }
                }
                assertEquals("native", ((Element) p.getElementsByTagName("activation").item(0))
                        .getElementsByTagName("name").item(0).getTextContent(), "activated by -Dnative");
            }
        }
        assertNotNull(props, "no native profile in pom.xml");
        assertEquals("true", props.get("quarkus.native.enabled"));
        assertEquals("true", props.get("quarkus.native.container-build"));
        assertTrue(props.getOrDefault("quarkus.native.builder-image", "").contains("mandrel"), props.toString());
    }

    @Test
    void resourceIncludesMatchFilesThatExist() throws IOException {
        Properties app = appProperties();
        String includes = app.getProperty("quarkus.native.resources.includes");
        assertNotNull(includes);
        List<Path> files;
        try (Stream<Path> s = Files.walk(RESOURCES)) {
            files = s.filter(Files::isRegularFile).map(RESOURCES::relativize).toList();
        }
        for (String glob : includes.split(",")) {
            PathMatcher m = FileSystems.getDefault().getPathMatcher("glob:" + glob.trim());
            assertTrue(files.stream().anyMatch(m::matches), "native resource include " + glob + " matches no file");
        }
        // what the server loads at run time is covered: the embedded model and the playground
        for (String needed : List.of("models/moa-shakespeare/model.safetensors", "models/moa-shakespeare/config.json",
                "models/moa-shakespeare/vocab.json", "META-INF/resources/index.html")) {
            assertTrue(Stream.of(includes.split(",")).anyMatch(g -> FileSystems.getDefault()
                    .getPathMatcher("glob:" + g.trim()).matches(Path.of(needed))), needed + " is not included");
        }
    }

    @Test
    void runTimeInitialisedAndJniClassesExist() throws Exception {
        String args = appProperties().getProperty("quarkus.native.additional-build-args");
        List<String> runTime = new ArrayList<>();
        for (String arg : args.replace("\\,", ",").split(",(?=-)")) {
            if (arg.startsWith("--initialize-at-run-time=")) {
                runTime.addAll(List.of(arg.substring("--initialize-at-run-time=".length()).split(",")));
            }
        }
        assertTrue(runTime.size() >= 2, "no run-time initialisation listed: " + args);
        // found in a trial native build: DJL's engine state and its call-home HTTP connection must
        // not be made at image build time (a PtEngine and a KeepAliveCache thread in the image heap)
        for (String mustBeRunTime : List.of("ai.djl.engine.Engine", "ai.djl.pytorch.engine.PtEngineProvider",
                "ai.djl.pytorch.engine.PtEngine", "ai.djl.util.Ec2Utils")) {
            assertTrue(runTime.stream().map(String::trim).anyMatch(mustBeRunTime::equals),
                    mustBeRunTime + " must be initialised at run time: " + runTime);
        }
        for (String c : runTime) {
            load(c.trim());
        }
        JsonNode jni = new ObjectMapper().readTree(RESOURCES.resolve(
                "META-INF/native-image/dev.moaserve/moa-serve/jni-config.json").toFile());
        assertTrue(jni.size() > 0);
        for (JsonNode entry : jni) {
            Class<?> c = load(entry.get("name").asText());
            for (JsonNode f : entry.path("fields")) {
                c.getDeclaredField(f.get("name").asText());
            }
            for (JsonNode m : entry.path("methods")) {
                Class<?>[] types = new Class<?>[m.get("parameterTypes").size()];
                for (int i = 0; i < types.length; i++) {
                    types[i] = type(m.get("parameterTypes").get(i).asText());
                }
                if (m.get("name").asText().equals("<init>")) {
                    c.getDeclaredConstructor(types);
                } else {
                    c.getMethod(m.get("name").asText(), types);
                }
            }
        }
    }

    private static Class<?> type(String name) throws ClassNotFoundException {
        return switch (name) {
            case "int" -> int.class;
            case "long" -> long.class;
            case "byte[]" -> byte[].class;
            default -> load(name);
        };
    }

    private static Class<?> load(String name) throws ClassNotFoundException {
        try {
            return Class.forName(name, false, NativeConfigTest.class.getClassLoader());
        } catch (ClassNotFoundException e) {
            fail("native configuration names a class that does not exist: " + name);
            throw e;
        }
    }

    private static Properties appProperties() throws IOException {
        Properties p = new Properties();
        try (var in = Files.newInputStream(RESOURCES.resolve("application.properties"))) {
            p.load(in);
        }
        return p;
    }
}
