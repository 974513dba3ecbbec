using MLNetExtensions.Transforms.Rlhf.QaFeedback;
using Xunit;

namespace MLNetExtensions.Tests.Rlhf;

public class QaFeedbackTaskTests
{
    private static readonly QaFeedbackTaskOptions Opt = new();

    // E3, passage A_k = V(10+k), question asks A2 A5 A7.
    private static QaExample Example() => new(3, Enumerable.Range(0, 8).Select(k => 10 + k).ToArray(), new[] { 2, 5, 7 });

    [Fact]
    public void OracleLabelsMatchHandComputedCase()
    {
        var ex = Example();
        // s0 correct A2; s1 A5 with a wrong value; s2 repeated A2 (correct value); s3 irrelevant A0 (correct value);
        // s4 wrong entity on A7; s5 malformed.
        var ans = QaFeedbackText.Parse("E3 A2 V12 <sep> E3 A5 V0 <sep> E3 A2 V12 <sep> E3 A0 V10 <sep> E4 A7 V17 <sep> E3 A7 <sep> <eos>", Opt);
        Assert.Equal(6, ans.Sentences.Count);
        Assert.False(ans.WellFormed);
        Assert.Equal(new[] { true, true, false, false, true, false }, QaFeedbackOracle.Relevance(ex, ans));
        Assert.Equal(new[] { true, false, true, true, false, false }, QaFeedbackOracle.Factuality(ex, ans));
        Assert.Equal(1.0, QaFeedbackOracle.Completeness(ex, ans), 12);            // A2, A5, A7 all mentioned (A7 by s4)

        var partial = QaFeedbackText.Parse("E3 A5 V15 <sep> E3 A1 V11 <sep>", Opt);
        Assert.Equal(1.0 / 3, QaFeedbackOracle.Completeness(ex, partial), 12);
        Assert.Equal(new[] { true, false }, QaFeedbackOracle.Relevance(ex, partial));
        Assert.Equal(new[] { true, true }, QaFeedbackOracle.Factuality(ex, partial));
        Assert.Throws<ArgumentOutOfRangeException>(() => QaFeedbackOracle.Labels(QaFeedbackAspect.Completeness, ex, partial));
    }

    [Fact]
    public void ParserFlagsTailsOutOfRangeWordsAndMissingEnd()
    {
        var a = QaFeedbackText.Parse("E3 A2 V12 <sep> E3 A5", Opt, ended: false);
        Assert.Single(a.Sentences);
        Assert.True(a.HasTail);
        Assert.False(a.Ended);
        var b = QaFeedbackText.Parse("E3 A9 V12 <sep> E3 A2 V40 <sep> E16 A2 V1 <sep> <eos> E3 A2 V12 <sep>", Opt);
        Assert.Equal(3, b.Sentences.Count);                                            // nothing after eos
        Assert.All(b.Sentences, s => Assert.False(s.WellFormed));
        var ex = Example();
        var good = new QaAnswer(new[] { new AnswerSentence(3, 2, 12), new AnswerSentence(3, 5, 15) });
        Assert.Equal(good, QaFeedbackText.Parse(good.Text, Opt) with { Sentences = good.Sentences });
        Assert.Equal(good.Sentences, QaFeedbackText.Parse(good.Text, Opt).Sentences);
        Assert.Equal(new[] { true, true }, QaFeedbackOracle.Relevance(ex, good));
    }

    [Fact]
    public void GeneratorIsDeterministicAndHasTheNoteRates()
    {
        var gen = new QaFeedbackGenerator();
        var a = gen.SftData(2000, seed: 5);
        var b = gen.SftData(2000, seed: 5);
        Assert.Equal(a.Select(x => x.Example.PolicyPrompt + x.Answer.Text), b.Select(x => x.Example.PolicyPrompt + x.Answer.Text));
        Assert.NotEqual(a.Select(x => x.Answer.Text), gen.SftData(2000, seed: 6).Select(x => x.Answer.Text));

        Assert.All(a, x => Assert.InRange(x.Example.Asked.Count, 2, 4));
        Assert.All(a, x => Assert.InRange(x.Answer.Sentences.Count, 1, 6));
        Assert.All(a, x => Assert.True(x.Answer.WellFormed));
        // Factual errors come only from the wrong-value draw (p = 0.25); completeness ≈ 0.7 (plus the never-empty rule).
        double factual = a.SelectMany(x => QaFeedbackOracle.Factuality(x.Example, x.Answer)).Average(l => l ? 1.0 : 0.0);
        Assert.InRange(factual, 0.72, 0.78);
        double comp = a.Average(x => QaFeedbackOracle.Completeness(x.Example, x.Answer));
        Assert.InRange(comp, 0.70, 0.78);
        double relevant = a.SelectMany(x => QaFeedbackOracle.Relevance(x.Example, x.Answer)).Average(l => l ? 1.0 : 0.0);
        Assert.InRange(relevant, 0.6, 0.8);                                            // extras: 0–2 per answer, uniform
        // Prompt + longest answer + bos/eos fit the policy's 64-token context.
        var tok = QaFeedbackText.CreateTokenizer(Opt);
        int longest = a.Max(x => tok.Tokenize(x.Example.PolicyPrompt + " " + x.Answer.Text).Length) + 2;
        Assert.InRange(longest, 20, 64);
        Assert.DoesNotContain(tok.Tokenize(a[0].Example.PolicyPrompt + " " + a[0].Answer.Text), id => id == 1);   // no <unk>
    }

    [Fact]
    public void AnnotationNoiseFlipsAtEtaAndKeepsTheOracle()
    {
        var gen = new QaFeedbackGenerator();
        var sft = gen.SftData(3000, seed: 1);
        foreach (var aspect in new[] { QaFeedbackAspect.Relevance, QaFeedbackAspect.Factuality })
        {
            var labeled = QaFeedbackData.LabelSentences(aspect, sft, Opt.AnnotationNoise, seed: 2);
            var pairs = labeled.SelectMany(l => l.OracleLabels.Zip(l.NoisyLabels)).ToArray();
            double flip = pairs.Average(p => p.First != p.Second ? 1.0 : 0.0);
            Assert.InRange(flip, 0.135, 0.165);
            Assert.All(labeled, l => Assert.Equal(QaFeedbackOracle.Labels(aspect, l.Example, l.Answer), l.OracleLabels));
            var zero = QaFeedbackData.LabelSentences(aspect, sft, 0, seed: 2);
            Assert.All(zero, l => Assert.Equal(l.OracleLabels, l.NoisyLabels));
        }

        var rng = new Random(3);
        var g2 = sft.Take(1500).Select(x => (x.Example, (IReadOnlyList<QaAnswer>)Enumerable.Range(0, 4).Select(_ => gen.NoisyAnswer(x.Example, rng)).ToArray())).ToArray();
        var prefs = QaFeedbackData.PreferencePairs(g2, Opt.AnnotationNoise, seed: 4);
        Assert.InRange(prefs.Count, 1500, 6 * 1500);
        Assert.All(prefs, p => Assert.Equal(p.OracleAgrees,
            QaFeedbackOracle.Completeness(p.Example, p.Chosen) > QaFeedbackOracle.Completeness(p.Example, p.Rejected)));
        Assert.All(prefs, p => Assert.NotEqual(QaFeedbackOracle.Completeness(p.Example, p.Chosen), QaFeedbackOracle.Completeness(p.Example, p.Rejected)));
        Assert.InRange(prefs.Average(p => p.OracleAgrees ? 0.0 : 1.0), 0.13, 0.17);

        var more = QaFeedbackData.AddNoise(prefs, 0.2, seed: 5);
        Assert.InRange(more.Average(p => p.OracleAgrees ? 0.0 : 1.0), 0.15 + 0.2 - 2 * 0.15 * 0.2 - 0.03, 0.15 + 0.2 - 2 * 0.15 * 0.2 + 0.03);
        var half = QaFeedbackData.Fraction(prefs, 0.25, seed: 6);
        Assert.Equal((int)Math.Round(0.25 * prefs.Count), half.Count);
        Assert.Throws<ArgumentOutOfRangeException>(() => QaFeedbackData.LabelSentences(QaFeedbackAspect.Relevance, sft, 0.6, 1));
        Assert.Throws<ArgumentOutOfRangeException>(() => new QaFeedbackGenerator(new QaFeedbackTaskOptions { MaxAsked = 9 }));
    }
}
