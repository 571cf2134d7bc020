package dev.moaserve;

import org.junit.jupiter.api.Assumptions;

import java.nio.file.Files;
import java.nio.file.Path;

/**
 * The read-only inputs beside the repository ({@code ../shared}). The reference cases are also
 * copied into {@code src/test/resources/reference} so that every clone runs the equivalence
 * tests; other inputs (the training text) skip their tests when {@code ../shared} is absent.
 */
public final class SharedData {
    private SharedData() {}

    public static Path root() {
        String override = System.getenv("MOA_SHARED_DIR");
        return Path.of(override != null ? override : "../shared").toAbsolutePath().normalize();
    }

    /** The repository's copy of a reference case, e.g. {@code reference/tiny}. */
    public static Path copy(String relative) {
        return Path.of("src/test/resources").resolve(relative);
    }

    /** A reference case from the repository's copies, any other input from ../shared (else the test is skipped). */
    public static Path require(String relative) {
        if (relative.startsWith("reference/") && Files.exists(copy(relative))) {
            return copy(relative);
        }
        Path p = root().resolve(relative);
        Assumptions.assumeTrue(Files.exists(p), "skipped: " + p + " not found (tests read ../shared beside the repo)");
        return p;
    }
}
