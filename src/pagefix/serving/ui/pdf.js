// A PDF of corrected pages, made in the browser from the PNG images the service returned: one
// image per page, its pixel data embedded without decoding (a PNG's IDAT stream is the zlib data
// of a PDF FlateDecode stream with PNG predictors). Pages whose PNG layout a PDF cannot take this
// way (alpha, palette, 16-bit, interlaced) are drawn once to a canvas and embedded as JPEG.

// The resolution pages are laid out at, as pagefix's own PDF writer (outputs/pdf.py): A4 at 2480 px.
const DPI = 300;
const PNG_SIGNATURE = [137, 80, 78, 71, 13, 10, 26, 10];
const encoder = new TextEncoder();

// PNG bytes -> {width, height, colors, data} for a FlateDecode image, or null when the layout
// needs decoding first.
function pngStream(bytes) {
  if (bytes.length < 8 || PNG_SIGNATURE.some((value, i) => bytes[i] !== value)) return null;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let header = null;
  const parts = [];
  for (let at = 8; at + 8 <= bytes.length;) {
    const length = view.getUint32(at);
    const type = String.fromCharCode(...bytes.subarray(at + 4, at + 8));
    const body = bytes.subarray(at + 8, at + 8 + length);
    if (type === "IHDR") {
      header = {
        width: view.getUint32(at + 8), height: view.getUint32(at + 12),
        depth: body[8], colorType: body[9], interlace: body[12],
      };
    } else if (type === "IDAT") {
      parts.push(body);
    } else if (type === "IEND") {
      break;
    }
    at += 12 + length;
  }
  const colors = header && { 0: 1, 2: 3 }[header.colorType];
  if (!header || !colors || header.depth !== 8 || header.interlace !== 0 || !parts.length) return null;
  return { width: header.width, height: header.height, colors, data: concat(parts) };
}

async function jpegStream(blob) {
  const bitmap = await createImageBitmap(blob);
  const canvas = new OffscreenCanvas(bitmap.width, bitmap.height);
  const context = canvas.getContext("2d");
  context.fillStyle = "#fff"; // transparent pixels become paper, not black
  context.fillRect(0, 0, bitmap.width, bitmap.height);
  context.drawImage(bitmap, 0, 0);
  bitmap.close();
  const jpeg = await canvas.convertToBlob({ type: "image/jpeg", quality: 0.95 });
  return { width: canvas.width, height: canvas.height, jpeg: new Uint8Array(await jpeg.arrayBuffer()) };
}

function concat(parts) {
  const out = new Uint8Array(parts.reduce((sum, part) => sum + part.length, 0));
  let at = 0;
  for (const part of parts) {
    out.set(part, at);
    at += part.length;
  }
  return out;
}

function imageDictionary(image) {
  const common = `/Type /XObject /Subtype /Image /Width ${image.width} /Height ${image.height} /BitsPerComponent 8`;
  if (image.jpeg) return `<< ${common} /ColorSpace /DeviceRGB /Filter /DCTDecode /Length ${image.jpeg.length} >>`;
  const space = image.colors === 1 ? "/DeviceGray" : "/DeviceRGB";
  return `<< ${common} /ColorSpace ${space} /Filter /FlateDecode /DecodeParms << /Predictor 15 ` +
    `/Colors ${image.colors} /BitsPerComponent 8 /Columns ${image.width} >> /Length ${image.data.length} >>`;
}

// Blobs of PNG pages -> one PDF Blob.
export async function pdfFromPngs(blobs) {
  const images = [];
  for (const blob of blobs) {
    const stream = pngStream(new Uint8Array(await blob.arrayBuffer()));
    images.push(stream || await jpegStream(blob));
  }
  const chunks = [];
  const offsets = [];
  let size = 0;
  const write = (part) => {
    const bytes = typeof part === "string" ? encoder.encode(part) : part;
    chunks.push(bytes);
    size += bytes.length;
  };
  const object = (number, ...parts) => {
    offsets[number] = size;
    write(`${number} 0 obj\n`);
    parts.forEach(write);
    write("\nendobj\n");
  };
  // Objects: 1 catalog, 2 page tree, then per page: page, its content, its image.
  const pageNumbers = images.map((_, i) => 3 + 3 * i);
  write("%PDF-1.4\n");
  write(new Uint8Array([37, 226, 227, 207, 211, 10])); // a binary comment: tools keep the file binary
  object(1, "<< /Type /Catalog /Pages 2 0 R >>");
  object(2, `<< /Type /Pages /Kids [${pageNumbers.map((n) => `${n} 0 R`).join(" ")}] /Count ${images.length} >>`);
  images.forEach((image, i) => {
    const n = pageNumbers[i];
    const width = (image.width * 72 / DPI).toFixed(2);
    const height = (image.height * 72 / DPI).toFixed(2);
    const content = `q ${width} 0 0 ${height} 0 0 cm /Im0 Do Q`;
    object(n, `<< /Type /Page /Parent 2 0 R /MediaBox [0 0 ${width} ${height}] ` +
      `/Resources << /XObject << /Im0 ${n + 2} 0 R >> >> /Contents ${n + 1} 0 R >>`);
    object(n + 1, `<< /Length ${content.length} >>\nstream\n${content}\nendstream`);
    object(n + 2, `${imageDictionary(image)}\nstream\n`, image.jpeg || image.data, "\nendstream");
  });
  const count = 3 + 3 * images.length;
  const xref = size;
  write(`xref\n0 ${count}\n0000000000 65535 f \n`);
  for (let n = 1; n < count; n++) write(`${String(offsets[n]).padStart(10, "0")} 00000 n \n`);
  write(`trailer\n<< /Size ${count} /Root 1 0 R >>\nstartxref\n${xref}\n%%EOF\n`);
  return new Blob(chunks, { type: "application/pdf" });
}
