using System.Reflection;

namespace MLNetExtensions.Core.Training;

/// <summary>
/// Every floating-point option of an options object (and of its array options) must be a finite number: NaN and ±∞
/// slip through range checks written as <c>!(x &gt; 0)</c> or <c>x &lt; 0</c> and only show up later as a
/// diverged training run that blames the learning rate.
/// </summary>
public static class FiniteOptions
{
    /// <summary>Throws <see cref="ArgumentOutOfRangeException"/> naming the first non-finite option.</summary>
    public static void Require(object options)
    {
        foreach (var p in options.GetType().GetProperties(BindingFlags.Public | BindingFlags.Instance))
        {
            if (p.GetIndexParameters().Length > 0 || !p.CanRead) continue;
            var t = p.PropertyType;
            if (t != typeof(double) && t != typeof(double?) && t != typeof(float) && t != typeof(float?) &&
                t != typeof(double[]) && t != typeof(float[])) continue;
            switch (p.GetValue(options))
            {
                case double d when !double.IsFinite(d): throw Bad(p.Name, d);
                case float f when !float.IsFinite(f): throw Bad(p.Name, f);
                case double[] ds when ds.Any(x => !double.IsFinite(x)): throw Bad(p.Name, ds.First(x => !double.IsFinite(x)), ds.Length);
                case float[] fs when fs.Any(x => !float.IsFinite(x)): throw Bad(p.Name, fs.First(x => !float.IsFinite(x)), fs.Length);
            }
        }
    }

    private static ArgumentOutOfRangeException Bad(string name, double value, int? length = null) =>
        new(name, value, length is null ? $"{name} must be a finite number; got {value}."
                                        : $"Every value of {name} must be a finite number; got {value} among its {length} values.");
}
