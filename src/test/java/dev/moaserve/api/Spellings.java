package dev.moaserve.api;

import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Set;

/**
 * The ways an attacker spells one path so that a router still matches it while a naive string
 * check does not: trailing and doubled slashes, dot segments (also after an open endpoint's
 * prefix), percent-encoded letters and slashes, upper case, matrix parameters, query strings.
 */
final class Spellings {
    private Spellings() {}

    /** {@code path} itself and its variants, as raw request targets (not normalised). */
    static List<String> of(String path) {
        String last = path.substring(path.lastIndexOf('/') + 1);
        String parent = path.substring(0, path.lastIndexOf('/'));
        Set<String> s = new LinkedHashSet<>();
        s.add(path);
        s.add(path + "/");
        s.add(path + "//");
        s.add(path + "/.");
        s.add(path + "/./");
        s.add(path + "/x/..");
        s.add("/" + path);
        s.add(path.replace("/", "//"));
        s.add("/." + path);
        s.add("/x/.." + path);
        s.add("/x/%2e%2e" + path);
        s.add("/health/.." + path);
        s.add("/q/health/../.." + path);
        s.add("/q/metrics/../.." + path);
        s.add("/playground.js/.." + path);
        if (!last.isEmpty()) {
            s.add(parent + "/" + pct(last.charAt(0)) + last.substring(1));
            s.add(parent + "/" + last.chars().mapToObj(c -> pct((char) c)).reduce("", String::concat));
            s.add(parent + "/" + last.toUpperCase(Locale.ROOT));
            s.add(parent + "/" + Character.toUpperCase(last.charAt(0)) + last.substring(1));
        }
        s.add(path.toUpperCase(Locale.ROOT));
        s.add(path + ";a=1");
        s.add(path + ";");
        s.add(path + "/;a=1");
        int second = path.indexOf('/', 1);
        if (second > 0) {
            s.add(path.substring(0, second) + ";a=1" + path.substring(second));
            s.add(path.substring(0, second) + "%2F" + path.substring(second + 1));
            s.add(path.substring(0, second) + "%2f" + path.substring(second + 1));
        }
        s.add(path + "%2F");
        s.add(path + "?a=1");
        s.add(path + "/?x=" + path);
        s.add(path + "?");
        s.add(path + "#f");
        s.add(path + "%20");
        s.add(path + "%00");
        return new ArrayList<>(s);
    }

    private static String pct(char c) {
        return String.format("%%%02X", (int) c);
    }
}
