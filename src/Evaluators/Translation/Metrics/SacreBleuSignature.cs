namespace MLNetExtensions.Evaluators.Translation.Metrics;

/// <summary>Builds sacreBLEU-style signatures (<c>nrefs:1|case:mixed|...|version:2.6.0</c>).</summary>
public static class SacreBleuSignature
{
    /// <summary>
    /// Version written in signatures. The metrics reproduce sacreBLEU 2.6.0 (checked case by case against it),
    /// so signatures say so by default; set another value to tag your own runs.
    /// </summary>
    public static string Version { get; set; } = "2.6.0";

    private static readonly Dictionary<string, string> Abbreviations = new()
    {
        ["nrefs"] = "#", ["case"] = "c", ["eff"] = "e", ["tok"] = "tok", ["smooth"] = "s", ["version"] = "v",
        ["nc"] = "nc", ["nw"] = "nw", ["space"] = "s",
    };

    internal static string Format(IEnumerable<(string Key, string Value)> items, bool shortForm)
    {
        var all = items.Append((Key: "version", Value: Version));
        return string.Join('|', all.Select(kv => $"{(shortForm ? Abbreviations[kv.Key] : kv.Key)}:{kv.Value}"));
    }

    internal static string NRefs(int numRefs) => numRefs < 0 ? "var" : numRefs.ToString(System.Globalization.CultureInfo.InvariantCulture);
}
