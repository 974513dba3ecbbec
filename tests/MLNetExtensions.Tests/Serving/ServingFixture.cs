using Microsoft.ML;
using Microsoft.ML.Data;
using MLNetExtensions.Tests.Infrastructure;
using MLNetExtensions.Transforms.Datasets;
using SkiaSharp;

namespace MLNetExtensions.Tests.Serving;

/// <summary>A tiny image classifier trained once on real Fashion-MNIST images, saved as a zip, plus PNG uploads.</summary>
public sealed class ServingFixture : IDisposable
{
    public string Directory { get; } = Path.Combine(Path.GetTempPath(), "mlnetext-serving-" + Guid.NewGuid().ToString("N"));
    public string ModelPath { get; }
    /// <summary>Test images encoded as PNG (what a client uploads).</summary>
    public IReadOnlyList<byte[]> Pngs { get; }

    public ServingFixture()
    {
        System.IO.Directory.CreateDirectory(Directory);
        var ml = new MLContext(seed: 1);
        var train = FashionMnist.Load(ml, FashionMnistSplit.Train, maxRows: 96);
        var model = new TestCnnTrainer(ml, new TestCnnTrainer.Options { ImageColumnName = "Image", MaxEpochs = 1, BatchSize = 16, Seed = 1, Width = 4 }).Fit(train);
        ModelPath = Path.Combine(Directory, "model.zip");
        ml.Model.Save(model, train.Schema, ModelPath);
        model.Dispose();
        var test = FashionMnist.Load(ml, FashionMnistSplit.Test, maxRows: 48);
        var pngs = new List<byte[]>();
        using (var cursor = test.GetRowCursor(test.Schema.Where(c => c.Name == "Image")))
        {
            var get = cursor.GetGetter<MLImage>(test.Schema["Image"]);
            MLImage img = null!;
            while (cursor.MoveNext()) { get(ref img); pngs.Add(Png(img)); }
        }
        Pngs = pngs;
    }

    private static byte[] Png(MLImage image)
    {
        // MLImage pixels are BGRA 8888 (as FashionMnist builds them); Skia's BGRA bitmap takes them as they are.
        using var bmp = new SKBitmap(new SKImageInfo(image.Width, image.Height, SKColorType.Bgra8888, SKAlphaType.Unpremul));
        var pixels = image.Pixels.ToArray();
        System.Runtime.InteropServices.Marshal.Copy(pixels, 0, bmp.GetPixels(), pixels.Length);
        using var data = bmp.Encode(SKEncodedImageFormat.Png, 100);
        return data.ToArray();
    }

    public void Dispose() { try { System.IO.Directory.Delete(Directory, true); } catch (IOException) { } }
}
