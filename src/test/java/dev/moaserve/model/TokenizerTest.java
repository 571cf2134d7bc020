package dev.moaserve.model;

import org.junit.jupiter.api.Test;

import java.nio.charset.StandardCharsets;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class TokenizerTest {
    @Test
    void charTokenizerRoundTripsAndRejectsUnknownCharacters() {
        CharTokenizer t = CharTokenizer.fromText("hello world\n");
        assertEquals("\n dehlorw", t.chars());
        long[] ids = t.encode("hold\n");
        assertEquals("hold\n", t.decode(ids));
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> t.encode("hex"));
        assertTrue(e.getMessage().contains("'x'") && e.getMessage().contains("offset 2"), e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> t.decode(new long[] {99}));
    }

    @Test
    void anAsciiVocabularyAcceptsWhatUsersTypeAndKeepsTheTextsOtherCharacters() {
        CharTokenizer t = CharTokenizer.asciiAnd("naïve text\n");
        assertEquals(2 + 95 + 1, t.vocabSize());   // tab, newline, printable ASCII, and 'ï'
        String typed = "What is 2+2? {\"a\": [1, 2]} @user /path ~\t";
        assertEquals(typed, t.decode(t.encode(typed)));
        assertEquals("naïve", t.decode(t.encode("naïve")));
        assertThrows(IllegalArgumentException.class, () -> t.encode("é"));
    }

    @Test
    void charVocabularyFileParses() {
        CharTokenizer t = CharTokenizer.parse("{\"type\":\"char\",\"chars\":\"ab\\n\"}".getBytes(StandardCharsets.UTF_8), "vocab.json");
        assertArrayEquals(new long[] {2, 0, 1}, t.encode("\nab"));
        assertThrows(ModelException.class, () -> CharTokenizer.parse("{\"chars\":1}".getBytes(StandardCharsets.UTF_8), "v"));
    }

    /** A Hugging Face tokenizer.json works offline through DJL's bundled Rust library. */
    @Test
    void huggingFaceTokenizerJsonWorksOffline() {
        String json = "{\"version\":\"1.0\",\"truncation\":null,\"padding\":null,\"added_tokens\":[],"
                + "\"normalizer\":null,\"pre_tokenizer\":{\"type\":\"Whitespace\"},\"post_processor\":null,"
                + "\"decoder\":null,\"model\":{\"type\":\"WordLevel\",\"vocab\":{\"[UNK]\":0,\"to\":1,\"be\":2,\"or\":3,\"not\":4},"
                + "\"unk_token\":\"[UNK]\"}}";
        HfTokenizer t = HfTokenizer.parse(json.getBytes(StandardCharsets.UTF_8), "tokenizer.json", 5);
        assertArrayEquals(new long[] {1, 2, 3, 4, 1, 2}, t.encode("to be or not to be"));
        assertEquals("to be", t.decode(new long[] {1, 2}));
        assertThrows(IllegalArgumentException.class, () -> t.decode(new long[] {7}));
    }
}
