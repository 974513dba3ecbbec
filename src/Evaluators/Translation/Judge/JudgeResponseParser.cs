using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;

namespace MLNetExtensions.Evaluators.Translation.Judge;

/// <summary>
/// Lenient, then validated, reading of judge answers: JSON (repaired when needed) in any reasonable key layout,
/// objects inside lists counted as items, and regex fallbacks (score after the score key, counted list items).
/// </summary>
public static partial class JudgeResponseParser
{
    /// <summary>Mistake types of the accuracy rubric.</summary>
    public static IReadOnlyList<string> MistakeTypes { get; } = new[] { "wrong", "omission", "addition", "other" };

    /// <summary>Parses an answer for <paramref name="dimension"/>; Status is Failed when nothing valid was found.</summary>
    public static JudgeVerdict Parse(JudgeDimension dimension, string? raw)
    {
        var fail = new JudgeVerdict { Dimension = dimension, Status = JudgeStatus.Failed, Raw = raw, Error = "the answer could not be parsed" };
        if (string.IsNullOrWhiteSpace(raw)) return fail with { Error = "empty answer" };
        var node = LenientJson.TryParse(raw, out var repaired);
        if (node is not null)
        {
            var v = FromJson(dimension, node);
            if (v is not null) return v with { Status = repaired ? JudgeStatus.Repaired : JudgeStatus.Ok, Raw = raw };
        }
        var r = FromRegex(dimension, raw);
        if (r is not null) return r with { Status = JudgeStatus.RegexFallback, Raw = raw };
        return fail with { Error = node is null ? "the answer is not JSON and no value could be recovered" : $"the JSON answer lacks the {Expected(dimension)}" };
    }

    private static string Expected(JudgeDimension d) => d switch
    {
        JudgeDimension.Fluency => "fluency score (an integer 1-5)",
        JudgeDimension.Accuracy => "list of accuracy mistakes",
        _ => "lexical and grammatical cohesion mistake lists",
    };

    private static JudgeVerdict? FromJson(JudgeDimension dimension, JsonNode root)
    {
        switch (dimension)
        {
            case JudgeDimension.Fluency:
            {
                JsonNode? scoreNode = null;
                var fl = Find(root, n => n.Contains("fluen"));
                if (fl is JsonObject o) scoreNode = Find(o, n => n.Contains("score") || n.Contains("rating"));
                else if (fl is JsonValue) scoreNode = fl;
                scoreNode ??= Find(root, n => n.Contains("score") || n.Contains("rating"));
                var score = ScoreOf(scoreNode);
                if (score is null) return null;
                var expl = Find(root, n => n.Contains("expla") || n.Contains("reason") || n.Contains("justif"));
                return new JudgeVerdict { Dimension = dimension, Status = JudgeStatus.Ok, Score = score, Explanation = expl is JsonValue ev ? AsText(ev) : expl?.ToJsonString() };
            }
            case JudgeDimension.Accuracy:
            {
                var list = Find(root, n => n.Contains("mistake") || n.Contains("error") || n.Contains("accura") || n.Contains("issue"), arraysOnly: true)
                           ?? (root is JsonObject ro && ro.Count == 1 && ro.First().Value is JsonArray only ? only : null);
                if (list is not JsonArray arr) return null;
                var mistakes = arr.Select(ToMistake).Where(m => m is not null).Select(m => m!).ToList();
                return new JudgeVerdict { Dimension = dimension, Status = JudgeStatus.Ok, ContentErrors = mistakes, ContentErrorCount = mistakes.Count };
            }
            default:
            {
                var lex = ListOf(Find(root, n => n.Contains("lexical")));
                var gram = ListOf(Find(root, n => n.Contains("grammat") || n.Contains("grammar")));
                if (lex is null || gram is null) return null;
                return new JudgeVerdict
                {
                    Dimension = dimension, Status = JudgeStatus.Ok, LexicalErrors = lex, GrammaticalErrors = gram,
                    LexicalErrorCount = lex.Count, GrammaticalErrorCount = gram.Count,
                };
            }
        }
    }

    /// <summary>Depth-first search for the first property whose lower-cased name satisfies <paramref name="name"/>.</summary>
    private static JsonNode? Find(JsonNode? node, Func<string, bool> name, bool arraysOnly = false)
    {
        switch (node)
        {
            case JsonObject o:
                foreach (var (k, v) in o)
                    if (name(k.ToLowerInvariant()) && (!arraysOnly || v is JsonArray)) return v ?? JsonValue.Create("");
                foreach (var (_, v) in o)
                    if (Find(v, name, arraysOnly) is { } found) return found;
                return null;
            case JsonArray a:
                foreach (var v in a)
                    if (Find(v, name, arraysOnly) is { } found) return found;
                return null;
            default: return null;
        }
    }

    private static double? ScoreOf(JsonNode? node)
    {
        if (node is not JsonValue v) return null;
        double? s = null;
        if (v.TryGetValue<double>(out var d)) s = d;
        else if (v.TryGetValue<string>(out var str))
        {
            var m = LeadingNumber().Match(str);
            if (m.Success) s = double.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture);
        }
        return s is >= 1 and <= 5 ? s : null;
    }

    private static List<string>? ListOf(JsonNode? node) => node switch
    {
        JsonArray a => a.Select(x => x is JsonValue xv ? AsText(xv) : x?.ToJsonString() ?? "").ToList(),
        JsonValue v when AsText(v).Trim().ToLowerInvariant() is "" or "none" or "n/a" or "no mistakes" or "[]" => new List<string>(),
        _ => null,
    };

    private static string AsText(JsonValue v) => v.TryGetValue<string>(out var s) ? s : v.ToJsonString();

    private static JudgeMistake? ToMistake(JsonNode? item)
    {
        switch (item)
        {
            case JsonValue v:
                var text = AsText(v);
                return string.IsNullOrWhiteSpace(text) ? null : new JudgeMistake(Classify(text), text);
            case JsonObject o:
                var type = Find(o, n => n is "type" or "category" or "error_type" or "mistake_type" or "kind");
                var desc = Find(o, n => n.Contains("desc") || n.Contains("text") || n.Contains("detail") || n.Contains("explan") || n == "mistake");
                var d = desc is JsonValue dv ? AsText(dv) : o.ToJsonString();
                return new JudgeMistake(Classify(type is JsonValue tv ? AsText(tv) : d), d);
            case null: return null;
            default: return new JudgeMistake("other", item.ToJsonString());
        }
    }

    /// <summary>Maps a type label or a mistake description to wrong / omission / addition / other.</summary>
    public static string Classify(string text)
    {
        var t = text.ToLowerInvariant();
        if (t.Contains("omission") || t.Contains("omit") || t.Contains("missing")) return "omission";
        if (t.Contains("addition") || t.Contains("added") || t.Contains("adds ")) return "addition";
        if (t.Contains("wrong") || t.Contains("mistransl") || t.Contains("incorrect") || t.Contains("misinterpret")) return "wrong";
        return "other";
    }

    private static JudgeVerdict? FromRegex(JudgeDimension dimension, string raw)
    {
        switch (dimension)
        {
            case JudgeDimension.Fluency:
                foreach (var re in new[] { ScoreAfterKey(), ScoreAfterFluency(), ScoreOutOfFive() })
                {
                    var m = re.Match(raw);
                    if (m.Success) return new JudgeVerdict { Dimension = dimension, Status = JudgeStatus.RegexFallback, Score = int.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture) };
                }
                return null;
            case JudgeDimension.Accuracy:
            {
                var n = CountItemsAfter(raw, "mistake") ?? CountItemsAfter(raw, "accura") ?? CountItemsAfter(raw, "error");
                return n is null ? null : new JudgeVerdict { Dimension = dimension, Status = JudgeStatus.RegexFallback, ContentErrorCount = n };
            }
            default:
            {
                var le = CountItemsAfter(raw, "lexical");
                var ge = CountItemsAfter(raw, "grammat");
                return le is null || ge is null ? null : new JudgeVerdict { Dimension = dimension, Status = JudgeStatus.RegexFallback, LexicalErrorCount = le, GrammaticalErrorCount = ge };
            }
        }
    }

    /// <summary>Counts the items of the first [...] list after <paramref name="key"/>; quotes may be broken, so only brackets nest.</summary>
    internal static int? CountItemsAfter(string raw, string key)
    {
        int k = raw.IndexOf(key, StringComparison.OrdinalIgnoreCase);
        if (k < 0) return null;
        int open = raw.IndexOf('[', k);
        if (open < 0) return null;
        // The list must start right after the key (only quotes, colon, spaces between).
        for (int i = k + key.Length; i < open; i++)
            if (!(char.IsLetter(raw[i]) || raw[i] is '_' or '"' or '\'' or ':' or ' ' or '\n' or '\r' or '\t')) return null;
        int depth = 0, objects = 0, close = -1;
        for (int i = open; i < raw.Length && close < 0; i++)
        {
            if (raw[i] is '[' or '{') { depth++; if (raw[i] == '{' && depth == 2) objects++; }
            else if (raw[i] is ']' or '}') { depth--; if (depth == 0) close = i; }
        }
        if (close < 0) return null;
        var body = raw.Substring(open + 1, close - open - 1).Trim();
        if (body.Length == 0) return 0;
        if (objects > 0) return objects;
        return ItemSeparator().Matches(body).Count + 1;
    }

    /// <summary>Reads a pairwise answer: "1", "2" or "tie"; null when unreadable.</summary>
    public static string? ParsePreference(string? raw)
    {
        if (string.IsNullOrWhiteSpace(raw)) return null;
        var node = LenientJson.TryParse(raw, out _);
        var value = Find(node, n => n.Contains("better") || n.Contains("winner") || n.Contains("prefer"));
        if (value is JsonValue v && Preference(AsText(v)) is { } p) return p;
        var m = PreferenceRegex().Match(raw);
        return m.Success ? Preference(m.Groups[1].Value) : null;
    }

    private static string? Preference(string s)
    {
        var t = s.Trim().ToLowerInvariant();
        if (t.Contains("tie") || t.Contains("equal") || t.Contains("same")) return "tie";
        bool one = t.Contains('1'), two = t.Contains('2');
        return one && !two ? "1" : two && !one ? "2" : null;
    }

    [GeneratedRegex(@"^\s*([1-5](?:\.\d+)?)(?![0-9])")]
    private static partial Regex LeadingNumber();
    [GeneratedRegex(@"(?i)""?score""?\s*[:=]\s*""?\s*([1-5])(?![0-9])")]
    private static partial Regex ScoreAfterKey();
    [GeneratedRegex(@"(?i)fluency[^0-9\n]{0,40}?([1-5])(?:\s*/\s*5)?(?![0-9])")]
    private static partial Regex ScoreAfterFluency();
    [GeneratedRegex(@"(?<![0-9])([1-5])\s*/\s*5(?![0-9])")]
    private static partial Regex ScoreOutOfFive();
    [GeneratedRegex(@"""\s*,\s*""")]
    private static partial Regex ItemSeparator();
    [GeneratedRegex(@"(?i)""?(?:better|winner|preferred|preference)""?\s*[:=]\s*""?\s*((?:translation\s*)?(?:1|2)|tie)")]
    private static partial Regex PreferenceRegex();
}
