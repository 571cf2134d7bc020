package dev.moaserve.api.protocol;

import com.fasterxml.jackson.databind.JsonNode;
import org.junit.jupiter.api.Test;

import java.util.Map;
import java.util.Set;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Strict reads of a request object: unknown keys, wrong types and ranges are 400s that name the field by its path. */
class JsonFieldsTest {
    private static JsonNode json(String s) throws Exception {
        return Json.MAPPER.readTree(s);
    }

    private static ApiException refused(Runnable r) {
        ApiException e = assertThrows(ApiException.class, r::run);
        assertEquals(400, e.status());
        return e;
    }

    @Test
    void valuesAreReadWithTheirTypesRangesAndDefaults() throws Exception {
        JsonFields f = new JsonFields(json("{\"n\": 3, \"x\": 0.5, \"s\": \"hi\", \"b\": true, \"gone\": null, \"big\": 2.0}"),
                "", Set.of("n", "x", "s", "b", "gone", "big", "absent"), Map.of());
        assertEquals(3, f.integer("n", 0, 1, 10));
        assertEquals(2, f.integer("big", 0, 1, 10), "2.0 is an integer");
        assertEquals(0.5, f.number("x", 1, 0, 1));
        assertEquals("hi", f.string("s", ""));
        assertTrue(f.bool("b", false));
        assertFalse(f.has("gone"), "null counts as absent");
        assertEquals(7, f.integer("absent", 7, 1, 10));
    }

    @Test
    void anUnknownOrUnsupportedKeyIsNamed() throws Exception {
        ApiException unknown = refused(() -> new JsonFields(safe("{\"tempreature\": 1}"), "", Set.of("temperature"), Map.of()));
        assertEquals("tempreature", unknown.param());
        ApiException unsupported = refused(() -> new JsonFields(safe("{\"tools\": []}"), "", Set.of(), Map.of("tools", "no tools")));
        assertTrue(unsupported.getMessage().contains("no tools"), unsupported.getMessage());
        assertEquals(-1, new JsonFields(safe("{\"tools\": null}"), "", Set.of(), Map.of("tools", "no tools")).integer("x", -1, -1, 1));
    }

    @Test
    void wrongTypesAndRangesNameTheFieldByItsPath() throws Exception {
        JsonFields p = new JsonFields(json("{\"top_k\": 1.5, \"top_p\": \"high\", \"n\": 99, \"stream\": 1}"), "parameters.",
                Set.of("top_k", "top_p", "n", "stream"), Map.of());
        assertEquals("parameters.top_k", refused(() -> p.integer("top_k", 0, 1, 100)).param());
        assertEquals("parameters.top_p", refused(() -> p.number("top_p", 1, 0, 1)).param());
        assertTrue(refused(() -> p.integer("n", 1, 1, 16)).getMessage().contains("[1, 16]"));
        assertEquals("parameters.stream", refused(() -> p.bool("stream", false)).param());
        assertEquals("parameters", refused(() -> new JsonFields(safe("[1]"), "parameters.", Set.of(), Map.of())).param());
    }

    private static JsonNode safe(String s) {
        try {
            return json(s);
        } catch (Exception e) {
            throw new AssertionError(e);
        }
    }
}
