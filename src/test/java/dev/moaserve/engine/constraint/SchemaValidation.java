package dev.moaserve.engine.constraint;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.networknt.schema.JsonSchemaFactory;
import com.networknt.schema.SchemaValidatorsConfig;
import com.networknt.schema.SpecVersion;

import static org.junit.jupiter.api.Assertions.assertTrue;

/** Validation by an independent JSON Schema implementation (networknt, 2020-12, formats asserted). */
public final class SchemaValidation {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final JsonSchemaFactory FACTORY = JsonSchemaFactory.getInstance(SpecVersion.VersionFlag.V202012);
    private static final SchemaValidatorsConfig STRICT = SchemaValidatorsConfig.builder().formatAssertionsEnabled(true).build();

    private SchemaValidation() {}

    /** Asserts that {@code text} is JSON valid against {@code schema}. */
    public static void assertValid(JsonNode schema, String text) throws java.io.IOException {
        var errors = FACTORY.getSchema(schema, STRICT).validate(JSON.readTree(text));
        assertTrue(errors.isEmpty(), "schema " + schema + "\noutput " + text + "\nerrors " + errors);
    }
}
