using System.Globalization;
using System.Numerics;

namespace MLNetExtensions.Evaluators.Translation.Metrics;

/// <summary>
/// Python's <c>f"{x:.Nf}"</c>: rounds the exact binary value, ties to even. .NET's "F2" rounds exact ties away
/// from zero (e.g. 0.125 → "0.13" where Python prints "0.12"), so display strings use this instead.
/// </summary>
public static class PyFormat
{
    /// <summary>Formats <paramref name="x"/> with <paramref name="decimals"/> digits after the point, as Python does.</summary>
    public static string Fixed(double x, int decimals)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(decimals);
        if (double.IsNaN(x)) return "nan";
        if (double.IsInfinity(x)) return x > 0 ? "inf" : "-inf";
        bool negative = x < 0 || (x == 0 && double.IsNegative(x));
        long bits = BitConverter.DoubleToInt64Bits(Math.Abs(x));
        int exp = (int)((bits >> 52) & 0x7FF);
        long frac = bits & 0xFFFFFFFFFFFFFL;
        BigInteger mant = exp == 0 ? frac : frac | (1L << 52);
        int e2 = (exp == 0 ? 1 : exp) - 1075; // |x| = mant * 2^e2
        BigInteger scaled;
        var pow10 = BigInteger.Pow(10, decimals);
        if (e2 >= 0) scaled = mant * BigInteger.Pow(2, e2) * pow10;
        else
        {
            var num = mant * pow10;
            var den = BigInteger.One << -e2;
            scaled = BigInteger.DivRem(num, den, out var rem);
            int cmp = (rem * 2).CompareTo(den);
            if (cmp > 0 || (cmp == 0 && !scaled.IsEven)) scaled += 1;
        }
        var digits = scaled.ToString(CultureInfo.InvariantCulture).PadLeft(decimals + 1, '0');
        var intPart = digits[..^decimals];
        var s = decimals == 0 ? digits : intPart + "." + digits[^decimals..];
        return negative ? "-" + s : s;
    }
}
