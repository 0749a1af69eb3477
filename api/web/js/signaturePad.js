// A signature drawn with a finger or stylus (pointer events), kept as a PNG data URL, or a typed name
// for when drawing is impractical. Either is accepted as the `signature` of a delivery.

export function createSignaturePad({ id, label, describedBy }) {
  const wrap = document.createElement('div');
  wrap.className = 'signature';

  const canvas = document.createElement('canvas');
  canvas.id = id;
  canvas.setAttribute('role', 'img');
  canvas.setAttribute('aria-label', `${label}: draw with your finger in this box`);
  if (describedBy) canvas.setAttribute('aria-describedby', describedBy);
  canvas.tabIndex = 0;

  const typedLabel = document.createElement('label');
  typedLabel.htmlFor = `${id}-typed`;
  typedLabel.textContent = 'Or type the name as signature';
  const typed = document.createElement('input');
  typed.id = `${id}-typed`;
  typed.type = 'text';
  typed.autocomplete = 'off';
  if (describedBy) typed.setAttribute('aria-describedby', describedBy);

  const row = document.createElement('div');
  row.className = 'row';
  const clear = document.createElement('button');
  clear.type = 'button';
  clear.className = 'secondary';
  clear.textContent = 'Clear signature';
  row.append(clear);
  wrap.append(canvas, row, typedLabel, typed);

  const ctx = canvas.getContext('2d');
  let drawn = false;
  let last = null;

  // Sized on first use so the bitmap matches the box (at most 2x, keeping the PNG small).
  function fit() {
    const scale = Math.min(window.devicePixelRatio || 1, 2);
    const rect = canvas.getBoundingClientRect();
    const w = Math.max(1, Math.round(rect.width * scale));
    const h = Math.max(1, Math.round(rect.height * scale));
    if (canvas.width === w && canvas.height === h) return;
    canvas.width = w;
    canvas.height = h;
    ctx.setTransform(scale, 0, 0, scale, 0, 0);
    ctx.lineWidth = 2.5;
    ctx.lineCap = 'round';
    ctx.lineJoin = 'round';
    ctx.strokeStyle = '#111';
    drawn = false;
  }

  function point(e) {
    const rect = canvas.getBoundingClientRect();
    return { x: e.clientX - rect.left, y: e.clientY - rect.top };
  }

  canvas.addEventListener('pointerdown', (e) => {
    fit();
    canvas.setPointerCapture(e.pointerId);
    last = point(e);
    ctx.beginPath();
    ctx.arc(last.x, last.y, 1.2, 0, Math.PI * 2);
    ctx.fill();
    drawn = true;
    e.preventDefault();
  });
  canvas.addEventListener('pointermove', (e) => {
    if (!last) return;
    const p = point(e);
    ctx.beginPath();
    ctx.moveTo(last.x, last.y);
    ctx.lineTo(p.x, p.y);
    ctx.stroke();
    last = p;
    e.preventDefault();
  });
  const end = () => {
    last = null;
  };
  canvas.addEventListener('pointerup', end);
  canvas.addEventListener('pointercancel', end);

  clear.addEventListener('click', () => {
    ctx.clearRect(0, 0, canvas.width, canvas.height);
    drawn = false;
  });

  return {
    element: wrap,
    focusTarget: canvas,
    invalidTargets: [canvas, typed],
    /** The drawn signature wins over a typed one; empty string when neither was given. */
    value() {
      if (drawn) return canvas.toDataURL('image/png');
      return typed.value.trim();
    },
  };
}
