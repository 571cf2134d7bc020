package dev.moaserve.api;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.util.List;
import java.util.concurrent.atomic.AtomicLong;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class ApiKeysTest {
    @TempDir
    Path dir;

    private final AtomicLong clock = new AtomicLong();

    @Test
    void noKeysMeansNoAuthentication() {
        assertFalse(new ApiKeys(List.of(), null, clock::get).enabled());
        assertFalse(new ApiKeys(List.of(" ", ""), null, clock::get).enabled(), "blank keys are no keys");
    }

    @Test
    void inlineKeysAreTrimmedAndMatchedExactly() {
        ApiKeys keys = new ApiKeys(List.of(" k1 ", "k2"), null, clock::get);
        assertTrue(keys.enabled());
        assertTrue(keys.accepts("k1"));
        assertTrue(keys.accepts("k2"));
        assertFalse(keys.accepts("k"));
        assertFalse(keys.accepts("k1 "));
        assertFalse(keys.accepts("K1"));
        assertFalse(keys.accepts(""));
    }

    @Test
    void fileKeysSkipCommentsAndBlankLinesAndAddToInlineOnes() throws Exception {
        Path file = dir.resolve("keys");
        Files.writeString(file, "# team A\nfile-a\n\n   file-b  \r\n#file-c\n");
        ApiKeys keys = new ApiKeys(List.of("inline"), file, clock::get);
        assertTrue(keys.accepts("file-a"));
        assertTrue(keys.accepts("file-b"));
        assertTrue(keys.accepts("inline"));
        assertFalse(keys.accepts("file-c"));
        assertFalse(keys.accepts("# team A"));
    }

    @Test
    void aMissingOrEmptyFileStopsStartupInsteadOfServingOpen() throws Exception {
        IllegalArgumentException missing = assertThrows(IllegalArgumentException.class,
                () -> new ApiKeys(List.of(), dir.resolve("absent"), clock::get));
        assertTrue(missing.getMessage().contains("moa.api-keys-file"), missing.getMessage());
        Path empty = Files.writeString(dir.resolve("empty"), "# nothing yet\n\n");
        IllegalArgumentException none = assertThrows(IllegalArgumentException.class,
                () -> new ApiKeys(List.of("inline"), empty, clock::get));
        assertTrue(none.getMessage().contains("holds no key"), none.getMessage());
    }

    @Test
    void aRotatedFileTakesEffectWithinASecondAndAVanishedOneKeepsTheLastKeys() throws Exception {
        Path file = Files.writeString(dir.resolve("keys"), "old\n");
        ApiKeys keys = new ApiKeys(List.of(), file, clock::get);
        Files.writeString(file, "new\n");
        Files.setLastModifiedTime(file, FileTime.fromMillis(Files.getLastModifiedTime(file).toMillis() + 5_000));
        assertTrue(keys.accepts("old"), "looked at no more than once a second");
        clock.addAndGet(1_000_000_001L);
        assertTrue(keys.accepts("new"));
        assertFalse(keys.accepts("old"));

        Files.delete(file);
        clock.addAndGet(1_000_000_001L);
        assertTrue(keys.accepts("new"), "a Secret being swapped can vanish for a moment");

        Files.writeString(file, "\n");
        Files.setLastModifiedTime(file, FileTime.fromMillis(System.currentTimeMillis() + 10_000));
        clock.addAndGet(1_000_000_001L);
        assertTrue(keys.accepts("new"), "an emptied file is never 'no authentication'");
        assertFalse(keys.accepts(""));
    }

    @Test
    void theBearerSchemeIsCaseInsensitive() {
        assertEquals("k1", AuthFilter.bearerToken("Bearer k1"));
        assertEquals("k1", AuthFilter.bearerToken("bearer k1"));
        assertEquals("k1", AuthFilter.bearerToken("BEARER   k1  "));
        assertNull(AuthFilter.bearerToken("Basic k1"));
        assertNull(AuthFilter.bearerToken("Bearer"));
        assertNull(AuthFilter.bearerToken("Bearer   "));
        assertNull(AuthFilter.bearerToken("Bearerk1"));
        assertNull(AuthFilter.bearerToken("k1"));
        assertNull(AuthFilter.bearerToken(null));
    }
}
