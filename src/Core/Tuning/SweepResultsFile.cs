using System.Globalization;
using System.Text;
using MLNetExtensions.Core.IO;

namespace MLNetExtensions.Core.Tuning;

/// <summary>
/// The CSV a sweep appends every finished trial to: <c>setting,repeat,seed,&lt;parameters…&gt;,&lt;metric&gt;,seconds,error</c>,
/// one line per trial. Each append rewrites the file through <see cref="AtomicFile"/> (temp file, fsync, rename), so a
/// crash leaves the previous complete file, never a half-written line; a damaged line therefore means something
/// else changed the file, and loading stops with an error naming it.
/// </summary>
internal sealed class SweepResultsFile
{
    private const int Fixed = 3; // setting, repeat, seed
    private readonly StringBuilder _text = new();

    public SweepResultsFile(string path, IReadOnlyList<string> parameterNames, string metricName)
    {
        Path = System.IO.Path.GetFullPath(path);
        Header = new[] { "setting", "repeat", "seed" }.Concat(parameterNames).Concat(new[] { metricName, "seconds", "error" }).ToArray();
        var dup = Header.GroupBy(h => h, StringComparer.OrdinalIgnoreCase).FirstOrDefault(g => g.Count() > 1);
        if (dup != null) throw new ArgumentException($"The results CSV would have two columns named '{dup.Key}'; rename the metric (MetricName).", nameof(metricName));
        ParameterCount = parameterNames.Count;
    }

    public string Path { get; }
    public string[] Header { get; }
    private int ParameterCount { get; }

    /// <summary>A trial row as stored: parameter values in their invariant text form.</summary>
    public sealed record Row(int Line, int Setting, int Repeat, int Seed, string[] ParameterTexts, double Metric, double Seconds, string? Error);

    /// <summary>Reads the existing file (if any) and checks it belongs to this sweep; creates it with the header otherwise.</summary>
    public List<Row> LoadOrCreate()
    {
        var rows = new List<Row>();
        if (!File.Exists(Path))
        {
            _text.Append(string.Join(',', Header)).Append('\n');
            AtomicFile.WriteAllBytes(Path, Encoding.UTF8.GetBytes(_text.ToString()));
            return rows;
        }
        var text = File.ReadAllText(Path, Encoding.UTF8);
        if (text.Length == 0) throw Corrupt(1, "the file is empty (no header)");
        if (!text.EndsWith('\n'))
            throw Corrupt(text.Count(c => c == '\n') + 1, "the last line does not end with a newline (truncated)");
        var lines = text[..^1].Split('\n');
        var header = ParseFields(lines[0].TrimEnd('\r'), 1);
        if (!header.SequenceEqual(Header))
            throw new InvalidDataException($"Results file '{Path}' belongs to a different sweep: its columns are [{string.Join(", ", header)}] " +
                $"but this sweep writes [{string.Join(", ", Header)}]. Use another ResultsPath or delete the file.");
        var seen = new HashSet<(int, int)>();
        for (int i = 1; i < lines.Length; i++)
        {
            int lineNo = i + 1;
            var f = ParseFields(lines[i].TrimEnd('\r'), lineNo);
            if (f.Length != Header.Length) throw Corrupt(lineNo, $"{f.Length} fields where the header has {Header.Length}");
            int setting = Int(f[0], lineNo, "setting"), repeat = Int(f[1], lineNo, "repeat"), seed = Int(f[2], lineNo, "seed");
            if (setting < 0 || repeat < 0) throw Corrupt(lineNo, "negative setting or repeat index");
            double metric = Real(f[Fixed + ParameterCount], lineNo, Header[Fixed + ParameterCount]);
            double seconds = Real(f[Fixed + ParameterCount + 1], lineNo, "seconds");
            var error = f[^1].Length == 0 ? null : f[^1];
            if (!seen.Add((setting, repeat))) throw Corrupt(lineNo, $"setting {setting} repeat {repeat} appears twice");
            rows.Add(new Row(lineNo, setting, repeat, seed, f[Fixed..(Fixed + ParameterCount)], metric, seconds, error));
        }
        _text.Append(text);
        return rows;
    }

    /// <summary>Appends one finished trial (the whole file is rewritten atomically).</summary>
    public void Append(TrialRecord r)
    {
        var fields = new List<string> { Inv(r.SettingIndex), Inv(r.Repeat), Inv(r.Seed) };
        fields.AddRange(r.Parameters.Items.Select(p => SweepValues.Format(p.Value)));
        fields.Add(SweepValues.Format(r.Metric));
        fields.Add(r.Duration.TotalSeconds.ToString("0.###", CultureInfo.InvariantCulture));
        // One physical line per trial: newlines in an error message become spaces.
        fields.Add(r.Error?.ReplaceLineEndings(" ") ?? "");
        _text.Append(string.Join(',', fields.Select(Escape))).Append('\n');
        AtomicFile.WriteAllBytes(Path, Encoding.UTF8.GetBytes(_text.ToString()));
    }

    private static string Inv(int v) => v.ToString(CultureInfo.InvariantCulture);

    private static string Escape(string s) =>
        s.IndexOfAny(new[] { ',', '"', '\n', '\r' }) >= 0 || s != s.Trim() ? "\"" + s.Replace("\"", "\"\"") + "\"" : s;

    private string[] ParseFields(string line, int lineNo)
    {
        var fields = new List<string>();
        var sb = new StringBuilder();
        int i = 0;
        while (true)
        {
            sb.Clear();
            if (i < line.Length && line[i] == '"')
            {
                i++;
                while (true)
                {
                    if (i >= line.Length) throw Corrupt(lineNo, "an unterminated quoted field");
                    if (line[i] == '"')
                    {
                        if (i + 1 < line.Length && line[i + 1] == '"') { sb.Append('"'); i += 2; continue; }
                        i++;
                        break;
                    }
                    sb.Append(line[i++]);
                }
                if (i < line.Length && line[i] != ',') throw Corrupt(lineNo, "text after a closing quote");
            }
            else
            {
                while (i < line.Length && line[i] != ',') sb.Append(line[i++]);
            }
            fields.Add(sb.ToString());
            if (i >= line.Length) return fields.ToArray();
            i++; // the comma
        }
    }

    private int Int(string s, int line, string column) =>
        int.TryParse(s, NumberStyles.Integer, CultureInfo.InvariantCulture, out var v) ? v : throw Corrupt(line, $"'{s}' in column {column} is not an integer");

    private double Real(string s, int line, string column) =>
        double.TryParse(s, NumberStyles.Float, CultureInfo.InvariantCulture, out var v) ? v : throw Corrupt(line, $"'{s}' in column {column} is not a number");

    private InvalidDataException Corrupt(int line, string why) =>
        new($"Results file '{Path}' line {line} is damaged: {why}. The sweep writes whole lines atomically, so something else changed " +
            "the file; fix or delete that line (its trial then runs again) or use another ResultsPath.");
}
