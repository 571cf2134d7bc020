package dev.moaserve;

import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.nio.file.Files;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;

/** The repository's copies of the reference cases still equal the shared originals (when those are present). */
class ReferenceCopiesTest {
    @ParameterizedTest
    @ValueSource(strings = {"tiny", "wide"})
    void copiesEqualTheOriginals(String name) throws Exception {
        Path original = SharedData.root().resolve("reference").resolve(name);
        Assumptions.assumeTrue(Files.isDirectory(original), "no shared originals to compare with");
        for (String f : new String[] {"config.json", "model.safetensors", "vectors.safetensors"}) {
            assertArrayEquals(Files.readAllBytes(original.resolve(f)),
                    Files.readAllBytes(SharedData.copy("reference/" + name).resolve(f)), name + "/" + f);
        }
    }
}
