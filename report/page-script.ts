/**
 * The gallery's browser code, inlined into index.html. Plain ES2017, no library. It reads the
 * compact card index from the page, keeps only the cards of the current page's data chunks loaded
 * (`data/cards-NNNNNN.js`, script tags because fetch() is refused on file://), and builds every
 * card with DOM calls and textContent, so manifest text is never parsed as HTML.
 */
import { JUDGE_DIMENSIONS, JUDGE_LABELS } from '../domain/types.ts';

export const PAGE_SCRIPT = String.raw`
(function () {
  'use strict';
  var index = JSON.parse(document.getElementById('scigen-index').textContent);
  var PAGE_SIZE = 24;
  var FIELDS = 4;
  var DIMENSIONS = ${JSON.stringify(JUDGE_DIMENSIONS.map((dimension) => [dimension, JUDGE_LABELS[dimension].short, JUDGE_LABELS[dimension].long]))};
  var state = { verdict: -1, subject: -1, imageType: -1, generator: -1, page: 0 };
  var chunks = {};
  var loading = {};
  var renderToken = 0;

  window.scigenCards = function (chunk, cards) { chunks[chunk] = cards; };

  function pad(number) { var text = String(number); while (text.length < 6) text = '0' + text; return text; }

  function loadChunk(chunk) {
    if (chunks[chunk]) return Promise.resolve(chunks[chunk]);
    if (!loading[chunk]) {
      loading[chunk] = new Promise(function (resolve, reject) {
        var script = document.createElement('script');
        script.src = 'data/cards-' + pad(chunk) + '.js';
        script.onload = function () {
          script.remove();
          if (chunks[chunk]) resolve(chunks[chunk]); else reject(new Error(script.src + ' held no cards'));
        };
        script.onerror = function () { script.remove(); delete loading[chunk]; reject(new Error('could not load ' + script.src)); };
        document.head.appendChild(script);
      });
    }
    return loading[chunk];
  }

  function element(tag, attributes, children) {
    var node = document.createElement(tag);
    Object.keys(attributes || {}).forEach(function (name) {
      var value = attributes[name];
      if (value === null || value === undefined || value === false) return;
      if (name === 'text') node.textContent = String(value); else node.setAttribute(name, String(value));
    });
    (children || []).forEach(function (child) {
      if (child === null || child === undefined) return;
      node.appendChild(typeof child === 'string' ? document.createTextNode(child) : child);
    });
    return node;
  }

  function percent(value) { return (value * 100).toFixed(1) + '%'; }

  function scoreChips(judge) {
    if (!judge) return element('span', { class: 'muted', text: 'not judged' });
    return element('span', { class: 'scores' }, DIMENSIONS.map(function (dimension) {
      var value = judge[dimension[0]];
      return element('span', { class: 'score score-' + value, title: dimension[2] + ': ' + value + ' / 2', text: dimension[1] + ' ' + value });
    }));
  }

  function link(href, label) {
    return href ? element('a', { href: href, target: '_blank', rel: 'noopener', text: label }) : null;
  }

  function details(summary, children, extraClass) {
    return element('details', { class: extraClass || null }, [element('summary', { text: summary })].concat(children));
  }

  function quizSection(results) {
    if (!results || results.length === 0) return null;
    var correct = results.filter(function (result) { return result.chosen === result.correct_option; }).length;
    var rows = results.map(function (result) {
      var right = result.chosen === result.correct_option;
      return element('tr', { class: right ? 'right' : 'wrong' }, [
        element('td', { text: result.question }),
        element('td', { class: 'letter', text: result.correct_option }),
        element('td', { class: 'letter', text: (result.chosen || '—') + (right ? ' ✓' : ' ✗') })
      ]);
    });
    var table = element('table', { class: 'quiz' }, [
      element('thead', {}, [element('tr', {}, [element('th', { text: 'question' }), element('th', { text: 'correct' }), element('th', { text: 'chosen' })])]),
      element('tbody', {}, rows)
    ]);
    return details('Quiz: ' + correct + ' of ' + results.length + ' answered correctly from the image', [table]);
  }

  function reasoningSection(reasoning) {
    if (!reasoning) return null;
    var children = [];
    if (reasoning.overall) children.push(element('p', { text: reasoning.overall }));
    DIMENSIONS.forEach(function (dimension) {
      var words = reasoning.dimensions && reasoning.dimensions[dimension[0]];
      if (words) children.push(element('p', {}, [element('strong', { text: dimension[2] + ': ' }), words]));
    });
    return children.length ? details('Judge reasoning', children) : null;
  }

  function versionsSection(versions) {
    if (!versions || versions.length < 2) return null;
    return details('Image versions (' + versions.length + ' rounds)', [element('div', { class: 'versions' }, versions.map(function (version) {
      return element('figure', {}, [
        version.image ? element('a', { href: version.image, target: '_blank', rel: 'noopener' }, [element('img', { src: version.image, loading: 'lazy', alt: 'round ' + version.round })]) : element('div', { class: 'no-image small', text: 'no image' }),
        element('figcaption', {}, [
          element('strong', { text: version.round === 0 ? 'first image' : 'refinement ' + version.round }), ' ',
          scoreChips(version.judge),
          version.critique ? element('p', { class: 'critique', text: version.critique }) : null,
          link(version.code, 'code')
        ])
      ]);
    }))]);
  }

  function cardElement(card) {
    var image = card.image
      ? element('a', { class: 'image', href: card.image, target: '_blank', rel: 'noopener' }, [
          element('img', { src: card.image, loading: 'lazy', decoding: 'async', alt: 'diagram for ' + card.id + ' by ' + card.generator })
        ])
      : element('div', { class: 'no-image', text: card.verdict === 'skipped' ? 'not visualizable' : 'no image' });
    var rInv = card.r_inv === null ? element('span', { class: 'muted', text: 'R_inv n/a' }) : element('span', { class: 'rinv', title: 'share of quizzes answered correctly from the image alone', text: 'R_inv ' + percent(card.r_inv) });
    var facts = [rInv, ' ', scoreChips(card.judge)];
    var body = [
      element('div', { class: 'card-head' }, [
        element('span', { class: 'verdict verdict-' + card.verdict, text: card.verdict }),
        element('span', { class: 'generator', title: card.model ? 'model ' + card.model : null, text: card.generator })
      ]),
      element('div', { class: 'problem-id', title: String(card.id), text: String(card.id) }),
      element('div', { class: 'meta', text: [card.subject || 'no subject', card.image_type || 'no image type'].join(' · ') }),
      element('div', { class: 'facts' }, facts),
      card.reference ? element('div', { class: 'reference', text: 'vs reference: PSNR ' + (card.reference.psnr === null ? '∞ (identical)' : card.reference.psnr.toFixed(2) + ' dB') + ', SSIM ' + card.reference.ssim.toFixed(3) }) : null,
      card.reasons.length ? element('ul', { class: 'reasons' }, card.reasons.map(function (reason) { return element('li', { text: reason }); })) : null,
      card.question ? details('Problem', [element('p', { class: 'question', text: card.question }), card.answer ? element('p', {}, [element('strong', { text: 'Answer: ' }), card.answer]) : null]) : null,
      quizSection(card.quiz_results),
      reasoningSection(card.judge_reasoning),
      versionsSection(card.versions),
      element('div', { class: 'links' }, [link(card.code, 'code'), link(card.plan, 'plan'), link(card.judge_file, 'judge')].concat(
        card.render_attempts > 1 ? [element('span', { class: 'muted', text: card.render_attempts + ' render attempts' })] : [])),
      card.notes.length ? element('div', { class: 'notes', text: card.notes.join('; ') }) : null
    ];
    return element('article', { class: 'card card-' + card.verdict, 'data-verdict': card.verdict, 'data-generator': card.generator }, [image, element('div', { class: 'card-body' }, body)]);
  }

  function matches(position) {
    var base = position * FIELDS;
    var entries = index.entries;
    return (state.generator < 0 || entries[base] === state.generator) &&
      (state.verdict < 0 || entries[base + 1] === state.verdict) &&
      (state.subject < 0 || entries[base + 2] === state.subject) &&
      (state.imageType < 0 || entries[base + 3] === state.imageType);
  }

  var grid = document.getElementById('gallery-grid');
  var status = document.getElementById('gallery-status');
  var pageLabel = document.getElementById('page-label');
  var previous = document.getElementById('page-previous');
  var next = document.getElementById('page-next');

  function render() {
    var token = ++renderToken;
    var selected = [];
    for (var position = 0; position < index.count; position++) if (matches(position)) selected.push(position);
    var pages = Math.max(1, Math.ceil(selected.length / PAGE_SIZE));
    if (state.page >= pages) state.page = pages - 1;
    var first = state.page * PAGE_SIZE;
    var shown = selected.slice(first, first + PAGE_SIZE);
    status.textContent = selected.length === 0 ? 'No card matches these filters.' :
      'Showing ' + (first + 1) + '–' + (first + shown.length) + ' of ' + selected.length + ' cards' + (selected.length < index.count ? ' (' + index.count + ' in all)' : '');
    pageLabel.textContent = 'page ' + (state.page + 1) + ' of ' + pages;
    previous.disabled = state.page === 0;
    next.disabled = state.page >= pages - 1;
    var needed = [];
    shown.forEach(function (position) { var chunk = Math.floor(position / index.chunkSize); if (needed.indexOf(chunk) < 0) needed.push(chunk); });
    Promise.all(needed.map(loadChunk)).then(function () {
      if (token !== renderToken) return;
      grid.textContent = '';
      shown.forEach(function (position) {
        var card = chunks[Math.floor(position / index.chunkSize)][position % index.chunkSize];
        grid.appendChild(cardElement(card));
      });
      // Only the chunks of the page on screen stay in memory, however large the build.
      Object.keys(chunks).forEach(function (chunk) {
        if (needed.indexOf(Number(chunk)) < 0) { delete chunks[chunk]; delete loading[chunk]; }
      });
    }, function (error) {
      if (token !== renderToken) return;
      grid.textContent = '';
      grid.appendChild(element('p', { class: 'load-error', text: error.message }));
    });
  }

  function counts(field) {
    var totals = [];
    for (var position = 0; position < index.count; position++) {
      var value = index.entries[position * FIELDS + field];
      totals[value] = (totals[value] || 0) + 1;
    }
    return totals;
  }

  var verdictButtons = document.getElementById('verdict-filter');
  var verdictCounts = counts(1);
  function verdictButton(label, value) {
    var button = element('button', { type: 'button', class: 'chip' + (value === state.verdict ? ' active' : ''), 'data-verdict': value < 0 ? 'all' : index.verdicts[value], text: label });
    button.addEventListener('click', function () {
      state.verdict = value;
      state.page = 0;
      Array.prototype.forEach.call(verdictButtons.children, function (other) { other.classList.toggle('active', other === button); });
      render();
    });
    return button;
  }
  verdictButtons.appendChild(verdictButton('all (' + index.count + ')', -1));
  index.verdicts.forEach(function (verdict, value) {
    if (verdictCounts[value]) verdictButtons.appendChild(verdictButton(verdict + ' (' + verdictCounts[value] + ')', value));
  });

  function selectFilter(id, names, field, key) {
    var select = document.getElementById(id);
    var totals = counts(field);
    names.forEach(function (name, value) {
      select.appendChild(element('option', { value: String(value), text: name + ' (' + (totals[value] || 0) + ')' }));
    });
    select.addEventListener('change', function () { state[key] = Number(select.value); state.page = 0; render(); });
  }
  selectFilter('subject-filter', index.subjects, 2, 'subject');
  selectFilter('image-type-filter', index.imageTypes, 3, 'imageType');
  selectFilter('generator-filter', index.generators, 0, 'generator');

  previous.addEventListener('click', function () { state.page--; render(); grid.scrollIntoView(); });
  next.addEventListener('click', function () { state.page++; render(); grid.scrollIntoView(); });
  render();
})();
`;
