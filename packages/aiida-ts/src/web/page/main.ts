/// <reference lib="dom" />
document.title = 'aiida-ts';
