using System.Globalization;
using Microsoft.Data.Analysis;

namespace MLNetExtensions.Core.IO;

/// <summary>CSV for the suite's DataFrames: comma-separated, header row, invariant culture, written atomically.</summary>
public static class DataFrameCsv
{
    /// <summary>Saves <paramref name="frame"/> to <paramref name="path"/> (folders created when missing).</summary>
    public static void Save(DataFrame frame, string path)
    {
        ArgumentNullException.ThrowIfNull(frame);
        ArgumentNullException.ThrowIfNull(path);
        var buffer = new MemoryStream(); // SaveCsv may close its stream; ToArray still works after that
        DataFrame.SaveCsv(frame, buffer, separator: ',', header: true, cultureInfo: CultureInfo.InvariantCulture);
        AtomicFile.WriteAllBytes(path, buffer.ToArray());
    }
}
