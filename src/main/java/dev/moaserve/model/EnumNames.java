package dev.moaserve.model;

import java.util.Arrays;
import java.util.Locale;
import java.util.stream.Collectors;

/** Enum constants as users spell them in settings and requests: lower case, any case accepted. */
public final class EnumNames {
    private EnumNames() {}

    /**
     * The constant named {@code name} (any case, surrounding blanks ignored), or an
     * IllegalArgumentException saying "{@code what} must be 'a' or 'b', got '…'".
     */
    public static <E extends Enum<E>> E parse(Class<E> type, String name, String what) {
        for (E e : type.getEnumConstants()) {
            if (e.name().equalsIgnoreCase(name.trim())) {
                return e;
            }
        }
        String allowed = Arrays.stream(type.getEnumConstants()).map(e -> "'" + e.name().toLowerCase(Locale.ROOT) + "'")
                .collect(Collectors.joining(" or "));
        throw new IllegalArgumentException(what + " must be " + allowed + ", got '" + name + "'");
    }
}
