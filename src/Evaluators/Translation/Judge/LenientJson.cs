using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace MLNetExtensions.Evaluators.Translation.Judge;

/// <summary>
/// Reads the JSON object in an LLM answer, repairing the failures seen in the released GPT-4 judgements:
/// prose or code fences around it, raw newlines/control characters in strings, unescaped inner quotes and
/// trailing commas.
/// </summary>
internal static class LenientJson
{
    private static readonly JsonDocumentOptions Options = new() { AllowTrailingCommas = true, CommentHandling = JsonCommentHandling.Skip };

    /// <summary>Parses the outermost object; <paramref name="repaired"/> tells whether repairs were needed.</summary>
    public static JsonNode? TryParse(string text, out bool repaired)
    {
        repaired = false;
        var candidate = Outermost(text);
        if (candidate is null) return null;
        var node = TryNode(candidate);
        if (node is not null) { repaired = candidate.Length != text.Trim().Length; return node; }
        node = TryNode(Repair(candidate));
        repaired = node is not null;
        return node;
    }

    private static JsonNode? TryNode(string s)
    {
        try { return JsonNode.Parse(s, documentOptions: Options); }
        catch (JsonException) { return null; }
    }

    /// <summary>From the first '{' to its matching '}' (string-aware), or to the last '}' if unbalanced.</summary>
    internal static string? Outermost(string text)
    {
        int start = text.IndexOf('{');
        if (start < 0) return null;
        int depth = 0;
        bool inString = false, escaped = false;
        for (int i = start; i < text.Length; i++)
        {
            char c = text[i];
            if (inString)
            {
                if (escaped) escaped = false;
                else if (c == '\\') escaped = true;
                else if (c == '"') inString = false;
                continue;
            }
            if (c == '"') inString = true;
            else if (c == '{') depth++;
            else if (c == '}' && --depth == 0) return text.Substring(start, i - start + 1);
        }
        int last = text.LastIndexOf('}');
        return last > start ? text.Substring(start, last - start + 1) : text[start..] + "}";
    }

    /// <summary>Escapes control characters and inner quotes inside strings and drops trailing commas.</summary>
    internal static string Repair(string s)
    {
        var sb = new StringBuilder(s.Length + 16);
        bool inString = false;
        for (int i = 0; i < s.Length; i++)
        {
            char c = s[i];
            if (!inString)
            {
                if (c == '"') inString = true;
                else if (c == ',')
                {
                    int j = NextNonSpace(s, i + 1);
                    if (j < s.Length && (s[j] == '}' || s[j] == ']')) continue; // trailing comma
                }
                sb.Append(c);
                continue;
            }
            if (c == '\\' && i + 1 < s.Length) { sb.Append(c).Append(s[++i]); continue; }
            if (c == '"')
            {
                // A quote ends the string only if what follows can follow a JSON string.
                int j = NextNonSpace(s, i + 1);
                bool closes = j >= s.Length || s[j] is ',' or ':' or '}' or ']';
                if (closes && s[j < s.Length ? j : s.Length - 1] == ',' )
                {
                    // `", "more text` inside a sentence: a closing quote is followed by a new key/value or item.
                    int k = NextNonSpace(s, j + 1);
                    closes = k >= s.Length || s[k] is '"' or '{' or '[' or ']' or '}' || char.IsDigit(s[k]) || s[k] == '-' || StartsLiteral(s, k);
                }
                if (closes) { inString = false; sb.Append(c); }
                else sb.Append("\\\"");
                continue;
            }
            if (c < 0x20)
            {
                sb.Append(c switch { '\n' => "\\n", '\r' => "\\r", '\t' => "\\t", _ => $"\\u{(int)c:x4}" });
                continue;
            }
            sb.Append(c);
        }
        if (inString) sb.Append('"');
        return sb.ToString();
    }

    private static bool StartsLiteral(string s, int k) =>
        string.CompareOrdinal(s, k, "true", 0, 4) == 0 || string.CompareOrdinal(s, k, "false", 0, 5) == 0 || string.CompareOrdinal(s, k, "null", 0, 4) == 0;

    private static int NextNonSpace(string s, int i)
    {
        while (i < s.Length && char.IsWhiteSpace(s[i])) i++;
        return i;
    }
}
