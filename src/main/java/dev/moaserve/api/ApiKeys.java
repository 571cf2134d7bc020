package dev.moaserve.api;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.List;
import java.util.function.LongSupplier;

/**
 * The accepted API keys: those given inline ({@code moa.api-keys}) plus those in a file
 * ({@code moa.api-keys-file}: one key per line, blank lines and {@code #} comments ignored), so a
 * Kubernetes Secret can be mounted. The file is read again when its modification time changes
 * (looked at no more than once a second), so a rotated Secret takes effect without a restart; a
 * file that cannot be read after startup keeps the keys read last (failing open is never an option).
 *
 * <p>Only SHA-256 digests of the keys are held, and a key is checked against every digest with
 * {@link MessageDigest#isEqual}: the time taken depends neither on where the keys differ nor on
 * their lengths, nor on which key matched.
 */
final class ApiKeys {
    private static final long RECHECK_NANOS = 1_000_000_000L;

    private final List<byte[]> inline;
    private final Path file;
    private final LongSupplier nanoClock;
    private volatile List<byte[]> digests;
    private volatile FileTime fileTime;
    private volatile long checkedAt;

    /**
     * @throws IllegalArgumentException when the file is given but missing, unreadable or holds no key:
     *     a server an operator meant to protect must not start open
     */
    ApiKeys(List<String> inlineKeys, Path file, LongSupplier nanoClock) {
        this.inline = inlineKeys.stream().map(String::trim).filter(k -> !k.isEmpty()).map(ApiKeys::digest).toList();
        this.file = file;
        this.nanoClock = nanoClock;
        this.checkedAt = nanoClock.getAsLong();
        if (file == null) {
            this.digests = inline;
            return;
        }
        try {
            this.fileTime = Files.getLastModifiedTime(file);
            List<byte[]> fromFile = readFile(file);
            if (fromFile.isEmpty()) {
                throw new IllegalArgumentException("moa.api-keys-file " + file + " holds no key (one key per line)");
            }
            this.digests = concat(inline, fromFile);
        } catch (java.nio.file.NoSuchFileException e) {
            throw new IllegalArgumentException("moa.api-keys-file " + file + " does not exist", e);
        } catch (IOException | UncheckedIOException e) {
            throw new IllegalArgumentException("moa.api-keys-file " + file + " cannot be read: " + e, e);
        }
    }

    /** True when at least one key is configured: then every route but the open ones needs one. */
    boolean enabled() {
        return file != null || !inline.isEmpty();
    }

    /** Whether {@code key} is one of the accepted keys (constant time over all keys). */
    boolean accepts(String key) {
        reloadIfChanged();
        byte[] given = digest(key);
        boolean match = false;
        for (byte[] d : digests) {
            match |= MessageDigest.isEqual(d, given);
        }
        return match;
    }

    private void reloadIfChanged() {
        long now = nanoClock.getAsLong();
        if (file == null || now - checkedAt < RECHECK_NANOS) {
            return;
        }
        checkedAt = now;
        try {
            FileTime t = Files.getLastModifiedTime(file);
            if (t.equals(fileTime)) {
                return;
            }
            List<byte[]> fromFile = readFile(file);
            fileTime = t;
            if (!fromFile.isEmpty()) { // an empty file mid-rotation is not "no authentication"
                digests = concat(inline, fromFile);
            }
        } catch (IOException | UncheckedIOException e) {
            // keep the keys read last: a Secret being swapped can vanish for a moment
        }
    }

    private static List<byte[]> readFile(Path file) throws IOException {
        List<byte[]> keys = new ArrayList<>();
        for (String line : Files.readAllLines(file, StandardCharsets.UTF_8)) {
            String k = line.trim();
            if (!k.isEmpty() && !k.startsWith("#")) {
                keys.add(digest(k));
            }
        }
        return keys;
    }

    private static List<byte[]> concat(List<byte[]> a, List<byte[]> b) {
        List<byte[]> all = new ArrayList<>(a);
        all.addAll(b);
        return List.copyOf(all);
    }

    private static byte[] digest(String key) {
        try {
            return MessageDigest.getInstance("SHA-256").digest(key.getBytes(StandardCharsets.UTF_8));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("every JVM has SHA-256", e);
        }
    }
}
